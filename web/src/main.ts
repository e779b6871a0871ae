// The hayate chat page: sign in (dev-mode name or a JWT), join and leave rooms, chat, DM a member, presence, a
// visible connection status, history on join, and messages typed while offline shown as pending until acked.
// Plain DOM, no framework: the state lives in `conversations`, and `render()` redraws from it. User text only ever
// goes through `textContent`. Everything network-related is the SDK's (src/sdk/): this file only presents it.
import { ChatClient, ChatError, type ChatMessage, type ChatState, type DmMessage, type JoinedEvent, type UserRef } from '../../src/sdk/index.js';

interface MessageItem {
  kind: 'msg';
  /** Server message id once delivered. */
  serverId: string | null;
  /** This page's client id while pending (and after, to match the delivered copy). */
  clientId: string | null;
  from: UserRef;
  text: string;
  ts: number;
  pending: boolean;
  failed: boolean;
}
interface NoticeItem {
  kind: 'notice';
  text: string;
  warn: boolean;
}
type Item = MessageItem | NoticeItem;

interface Conversation {
  key: string;
  kind: 'room' | 'dm';
  /** Room name, or the other user's id for a DM. */
  target: string;
  title: string;
  items: Item[];
  unread: number;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} is missing from index.html`);
  return el as T;
};

const ui = {
  status: $('status'),
  reconnect: $<HTMLButtonElement>('reconnect'),
  me: $('me'),
  signout: $<HTMLButtonElement>('signout'),
  menu: $<HTMLButtonElement>('menu'),
  login: $('login'),
  loginForm: $<HTMLFormElement>('login-form'),
  loginName: $<HTMLInputElement>('login-name'),
  loginToken: $<HTMLTextAreaElement>('login-token'),
  app: $('app'),
  side: $('side'),
  rooms: $('rooms'),
  dms: $('dms'),
  members: $('members'),
  membersRoom: $('members-room'),
  joinForm: $<HTMLFormElement>('join-form'),
  joinRoom: $<HTMLInputElement>('join-room'),
  title: $('title'),
  leave: $<HTMLButtonElement>('leave'),
  messages: $('messages'),
  composer: $<HTMLFormElement>('composer'),
  text: $<HTMLInputElement>('text'),
  send: $<HTMLButtonElement>('send'),
};

const conversations = new Map<string, Conversation>();
let current: string | null = null;
let client: ChatClient | null = null;
let me: UserRef | null = null;
let countdown: ReturnType<typeof setInterval> | null = null;

const store = {
  get(key: string): string | null {
    try {
      return localStorage.getItem(`hayate.${key}`);
    } catch {
      return null;
    }
  },
  set(key: string, value: string | null): void {
    try {
      if (value === null) localStorage.removeItem(`hayate.${key}`);
      else localStorage.setItem(`hayate.${key}`, value);
    } catch {
      // storage may be disabled (private mode): the page still works, it just forgets on reload
    }
  },
};

function serverUrl(): string {
  const override = new URLSearchParams(location.search).get('server');
  if (override !== null) return override;
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
}

function roomKey(room: string): string {
  return `room:${room}`;
}

/** Same rule as the server's conversationId(): the two user ids sorted. */
function dmKey(a: string, b: string): string {
  return a < b ? `dm:${a}:${b}` : `dm:${b}:${a}`;
}

function conversation(key: string, kind: 'room' | 'dm', target: string, title: string): Conversation {
  let c = conversations.get(key);
  if (c === undefined) {
    c = { key, kind, target, title, items: [], unread: 0 };
    conversations.set(key, c);
  }
  return c;
}

function savedRooms(): string[] {
  try {
    const parsed: unknown = JSON.parse(store.get('rooms') ?? '[]');
    return Array.isArray(parsed) ? parsed.filter((r): r is string => typeof r === 'string') : [];
  } catch {
    return [];
  }
}

function saveRooms(): void {
  store.set('rooms', JSON.stringify(client?.rooms() ?? []));
}

// ---------------------------------------------------------------------------------------------------------------
// connection

function signIn(name: string, token: string): void {
  store.set('name', name === '' ? null : name);
  if (token !== '') sessionStorage.setItem('hayate.token', token);
  client = new ChatClient({
    url: serverUrl(),
    ...(name !== '' ? { name } : {}),
    ...(token !== '' ? { token } : {}),
  });
  client.on('state', showState);
  client.on('welcome', (w) => {
    me = w.user;
    ui.me.textContent = `signed in as ${w.user.name}`;
    render();
  });
  client.on('joined', onJoined);
  client.on('message', onChat);
  client.on('dm', onDm);
  client.on('presence', (p) => {
    if (p.user.id === me?.id) return;
    notice(roomKey(p.room), `${p.user.name} ${p.event === 'join' ? 'joined' : 'left'}`);
  });
  client.on('members', ({ room }) => {
    if (current === roomKey(room)) renderMembers();
  });
  client.on('error', (e) => {
    if (current !== null) notice(current, `⚠ ${e.message}`, true);
  });
  ui.login.hidden = true;
  ui.app.hidden = false;
  ui.signout.hidden = false;
  document.body.classList.add('in-app');
  const rooms = savedRooms();
  for (const room of rooms.length > 0 ? rooms : ['lobby']) joinRoom(room);
  client.connect();
}

function signOut(): void {
  client?.disconnect();
  client = null;
  me = null;
  conversations.clear();
  current = null;
  store.set('name', null);
  store.set('rooms', null);
  sessionStorage.removeItem('hayate.token');
  ui.app.hidden = true;
  ui.login.hidden = false;
  ui.signout.hidden = true;
  ui.me.textContent = '';
  document.body.classList.remove('in-app');
  showState({ kind: 'idle' });
}

function showState(state: ChatState): void {
  if (countdown !== null) {
    clearInterval(countdown);
    countdown = null;
  }
  ui.status.dataset.state = state.kind;
  switch (state.kind) {
    case 'idle':
      ui.status.textContent = 'not connected';
      break;
    case 'connecting':
      ui.status.textContent = state.attempt > 1 ? `connecting (attempt ${state.attempt})…` : 'connecting…';
      break;
    case 'open':
      ui.status.textContent = 'connected';
      break;
    case 'offline':
      ui.status.textContent = 'offline';
      break;
    case 'reconnecting': {
      const tick = (): void => {
        const s = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
        ui.status.textContent = `reconnecting in ${s} s`;
      };
      tick();
      countdown = setInterval(tick, 250);
      break;
    }
    case 'closed':
      ui.status.textContent = `disconnected: ${state.reason}`;
      break;
  }
  ui.reconnect.hidden = client === null || state.kind !== 'closed';
  const usable = client !== null && state.kind !== 'closed';
  ui.text.disabled = !usable || current === null;
  ui.send.disabled = ui.text.disabled;
}

// ---------------------------------------------------------------------------------------------------------------
// events from the SDK

function onJoined(event: JoinedEvent): void {
  if (event.room.startsWith('@')) return; // the user's own DM inbox: its messages show as DM conversations
  const c = conversation(roomKey(event.room), 'room', event.room, `# ${event.room}`);
  if (event.replay.epochChanged && event.resumed) {
    notice(c.key, 'The server restarted and lost its history: earlier messages may be missing.', true);
  } else if (event.replay.truncated) {
    notice(c.key, 'Some messages were too old to catch up on.', true);
  }
  if (current === null) select(c.key);
  else render();
}

function onChat(m: ChatMessage): void {
  const c = conversation(roomKey(m.room), 'room', m.room, `# ${m.room}`);
  deliver(c, m);
}

function onDm(m: DmMessage): void {
  const peer = m.from.id === me?.id ? m.to : m.from;
  const c = conversation(dmKey(m.from.id, m.to.id), 'dm', peer.id, `@ ${peer.name}`);
  deliver(c, m);
}

// Delivered messages are shown in the server's order, which is the order the SDK delivers them in (a resume replays
// what was missed before anything newer), so every page shows a conversation alike. What this page typed and is still
// waiting to send stays below them, in the order it was typed, and takes its place when its delivered copy comes: a
// message the server had before one typed offline shows above it, as it does for everyone else.
function deliver(c: Conversation, m: ChatMessage | DmMessage): void {
  const items = c.items;
  const at = m.clientId === undefined ? -1 : items.findIndex((i) => i.kind === 'msg' && i.clientId === m.clientId);
  let item: MessageItem;
  if (at >= 0) {
    item = items[at] as MessageItem;
    items.splice(at, 1);
    item.serverId = m.id;
    item.pending = false;
    item.failed = false;
    item.ts = m.ts;
  } else {
    item = { kind: 'msg', serverId: m.id, clientId: m.clientId ?? null, from: m.from, text: m.text, ts: m.ts, pending: false, failed: false };
    if (c.key !== current) c.unread += 1;
  }
  const firstPending = items.findIndex((i) => i.kind === 'msg' && i.pending);
  if (firstPending < 0) items.push(item);
  else items.splice(firstPending, 0, item);
  render();
}

function notice(key: string, text: string, warn = false): void {
  const c = conversations.get(key);
  if (c === undefined) return;
  c.items.push({ kind: 'notice', text, warn });
  render();
}

// ---------------------------------------------------------------------------------------------------------------
// user actions

function joinRoom(room: string): void {
  if (client === null) return;
  const c = conversation(roomKey(room), 'room', room, `# ${room}`);
  select(c.key);
  client.join(room).then(saveRooms, (e: unknown) => {
    notice(c.key, `Could not join: ${e instanceof Error ? e.message : String(e)}`, true);
  });
  saveRooms();
}

function sendCurrent(text: string): void {
  const c = current === null ? undefined : conversations.get(current);
  if (client === null || c === undefined || me === null && c.kind === 'dm') return;
  const id = client.createMessageId();
  const item: MessageItem = { kind: 'msg', serverId: null, clientId: id, from: me ?? { id: '', name: 'me' }, text, ts: Date.now(), pending: true, failed: false };
  c.items.push(item);
  render();
  const sent = c.kind === 'room' ? client.send(c.target, text, { id }) : client.dm(c.target, text, { id });
  sent.then(
    () => {
      item.pending = false;
      render();
    },
    (e: unknown) => {
      item.pending = false;
      item.failed = true;
      if (e instanceof ChatError && e.code === 'disconnected') return render();
      notice(c.key, `Not sent: ${e instanceof Error ? e.message : String(e)}`, true);
    },
  );
}

function select(key: string): void {
  current = key;
  const c = conversations.get(key);
  if (c !== undefined) c.unread = 0;
  ui.side.classList.remove('open');
  ui.menu.setAttribute('aria-expanded', 'false');
  showState(client?.state ?? { kind: 'idle' });
  render();
}

ui.loginForm.addEventListener('submit', (event) => {
  event.preventDefault();
  signIn(ui.loginName.value.trim(), ui.loginToken.value.trim());
});
ui.signout.addEventListener('click', signOut);
ui.reconnect.addEventListener('click', () => client?.connect());
ui.menu.addEventListener('click', () => {
  const open = ui.side.classList.toggle('open');
  ui.menu.setAttribute('aria-expanded', String(open));
});
ui.joinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const room = ui.joinRoom.value.trim();
  if (room === '') return;
  ui.joinRoom.value = '';
  joinRoom(room);
});
ui.leave.addEventListener('click', () => {
  const c = current === null ? undefined : conversations.get(current);
  if (client === null || c === undefined || c.kind !== 'room') return;
  conversations.delete(c.key);
  current = null;
  void client.leave(c.target).then(saveRooms);
  saveRooms();
  const next = conversations.keys().next();
  if (next.done !== true) select(next.value);
  else render();
});
ui.composer.addEventListener('submit', (event) => {
  event.preventDefault();
  const text = ui.text.value.trim();
  if (text === '') return;
  ui.text.value = '';
  sendCurrent(text);
});

// ---------------------------------------------------------------------------------------------------------------
// rendering

function el<K extends keyof HTMLElementTagNameMap>(tag: K, props: Partial<HTMLElementTagNameMap[K]> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const node = Object.assign(document.createElement(tag), props);
  node.append(...children);
  return node;
}

function render(): void {
  renderLists();
  renderMembers();
  const c = current === null ? undefined : conversations.get(current);
  ui.title.textContent = c?.title ?? 'Pick a room';
  ui.leave.hidden = c?.kind !== 'room';
  const box = ui.messages;
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(...(c?.items ?? []).map(renderItem));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function renderItem(item: Item): HTMLElement {
  if (item.kind === 'notice') return el('li', { className: `notice${item.warn ? ' warn' : ''}` }, item.text);
  const mine = me !== null && item.from.id === me.id;
  const li = el(
    'li',
    { className: `msg${mine ? ' mine' : ''}${item.pending ? ' pending' : ''}${item.failed ? ' failed' : ''}` },
    el('span', { className: 'who' }, mine ? 'you' : item.from.name),
    el('span', { className: 'text' }, item.text),
    el('time', { dateTime: new Date(item.ts).toISOString() }, new Date(item.ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })),
  );
  if (item.serverId !== null) li.dataset.id = item.serverId;
  if (item.clientId !== null) li.dataset.clientId = item.clientId;
  return li;
}

function renderLists(): void {
  const entry = (c: Conversation): HTMLElement => {
    const button = el('button', { type: 'button' }, el('span', {}, c.title));
    if (c.unread > 0) button.append(el('span', { className: 'badge' }, String(c.unread)));
    button.setAttribute('aria-current', String(c.key === current));
    button.dataset.key = c.key;
    button.addEventListener('click', () => select(c.key));
    return el('li', {}, button);
  };
  const all = [...conversations.values()];
  ui.rooms.replaceChildren(...all.filter((c) => c.kind === 'room').map(entry));
  ui.dms.replaceChildren(...all.filter((c) => c.kind === 'dm').map(entry));
}

function renderMembers(): void {
  const c = current === null ? undefined : conversations.get(current);
  if (client === null || c === undefined || c.kind !== 'room') {
    ui.membersRoom.textContent = 'this room';
    ui.members.replaceChildren();
    return;
  }
  ui.membersRoom.textContent = c.title;
  ui.members.replaceChildren(
    ...client.members(c.target).map(({ user, connections }) => {
      const isMe = user.id === me?.id;
      const button = el('button', { type: 'button', title: isMe ? 'you' : `Message ${user.name}` }, el('span', {}, isMe ? `${user.name} (you)` : user.name));
      if (connections > 1) button.append(el('span', { className: 'conn' }, `${connections} tabs`));
      button.dataset.user = user.id;
      button.disabled = isMe;
      button.addEventListener('click', () => {
        if (me === null) return;
        const dm = conversation(dmKey(me.id, user.id), 'dm', user.id, `@ ${user.name}`);
        select(dm.key);
        ui.text.focus();
      });
      return el('li', {}, button);
    }),
  );
}

// Sign in again after a reload (or straight away with ?name=...).
{
  const params = new URLSearchParams(location.search);
  const name = params.get('name') ?? store.get('name');
  const token = sessionStorage.getItem('hayate.token') ?? '';
  ui.loginName.value = name ?? '';
  if (params.has('name') || name !== null || token !== '') signIn(name ?? '', token);
}
