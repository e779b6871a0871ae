// parseClientMessage: one text frame to a validated client message (messages.ts schemas), or the stable error code
// and message to refuse it with. JSON.parse, a `type` lookup, then the one schema of that type (cheaper than trying
// the whole union). It does not know peers, rate limits or what happens next.
import {
  ChatSendMessage, CLIENT_MESSAGE_TYPES, DmSendMessage, HelloMessage, JoinMessage, LeaveMessage, PingMessage,
  type ClientMessage, type ErrorCode,
} from './messages.js';

const SCHEMAS = {
  hello: HelloMessage, join: JoinMessage, leave: LeaveMessage, chat: ChatSendMessage, dm: DmSendMessage, ping: PingMessage,
} as const;
const KNOWN_TYPES: ReadonlySet<string> = new Set(CLIENT_MESSAGE_TYPES);

/** ParsedClientMessage is a valid message (with its id, if any) or a refusal. */
export type ParsedClientMessage =
  | { ok: true; message: ClientMessage; id: string | undefined }
  | { ok: false; code: ErrorCode; message: string; id: string | undefined };

/** parseClientMessage validates one UTF-8 text frame against the client schemas. */
export function parseClientMessage(data: Buffer): ParsedClientMessage {
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.toString('utf8'));
  } catch {
    return { ok: false, code: 'invalid_json', message: 'not valid JSON', id: undefined };
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return { ok: false, code: 'invalid_json', message: 'a message is a JSON object', id: undefined };
  }
  const raw = parsed as { type?: unknown; id?: unknown };
  const id = typeof raw.id === 'string' && raw.id.length <= 64 ? raw.id : undefined;
  if (typeof raw.type !== 'string' || !KNOWN_TYPES.has(raw.type)) {
    return { ok: false, code: 'unknown_type', message: `unknown message type ${JSON.stringify(raw.type ?? null).slice(0, 40)}`, id };
  }
  const result = SCHEMAS[raw.type as keyof typeof SCHEMAS].safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    const where = issue.path.length > 0 ? issue.path.join('.') : raw.type;
    return { ok: false, code: 'invalid_message', message: `${where}: ${issue.message}`, id };
  }
  return { ok: true, message: result.data as ClientMessage, id };
}
