#!/usr/bin/env node
// The `hayate` command: dispatches to one file per subcommand. Today: `serve` (the realtime chat server).
// It does not parse a subcommand's options (each command does) and prints nothing but usage and errors itself.
import { runServe } from './serve.js';

/** MAIN_USAGE is the `hayate --help` text. */
export const MAIN_USAGE = `Usage: hayate <command> [options]

Commands:
  serve     run the realtime chat server (WebSocket, /healthz, /metrics, the chat page)

Run "hayate <command> --help" for a command's options.
`;

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  serve: (argv) => runServe(argv),
};

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(MAIN_USAGE);
    process.exitCode = command === undefined ? 2 : 0;
    return;
  }
  const run = COMMANDS[command];
  if (run === undefined) {
    process.stderr.write(`hayate: unknown command ${JSON.stringify(command)}\n\n${MAIN_USAGE}`);
    process.exitCode = 2;
    return;
  }
  await run(rest);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stderr.write(`hayate: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
