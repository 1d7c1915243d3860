/* 云澜银行 · 人工客服工作台 (staff console).
   Security: customer/agent text reaches the page only through textContent (never
   parsed as HTML); no inline handlers; every state-changing request carries the
   CSRF token from <meta name="csrf-token">. */
'use strict';

(() => {
  const ROLE = document.body.dataset.role;
  const ME = document.body.dataset.user;
  const CSRF = document.querySelector('meta[name="csrf-token"]')?.content || '';
  const BASE_TITLE = document.title;
  const STATE_LABELS = { waiting: '排队中', with_agent: '服务中', resolved: '已结束', message: '留言', cancelled: '已取消' };
  const $ = (id) => document.getElementById(id);

  let conv = null; // the open conversation: {id, lastId, shown: Set, closed, timer, busy}
  let refreshQueue = () => {}; // becomes the queue loop's "refresh now"

  // ---- helpers ---------------------------------------------------------------

  /** Create an element with an optional class and text (always textContent). */
  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** 192 -> "3分12秒", 3725 -> "1小时2分", 90000 -> "1天1小时". */
  function duration(seconds) {
    const s = Math.max(0, Math.floor(Number(seconds) || 0));
    if (s < 60) return `${s}秒`;
    if (s < 3600) return `${Math.floor(s / 60)}分${s % 60}秒`;
    if (s < 86400) return `${Math.floor(s / 3600)}小时${Math.floor((s % 3600) / 60)}分`;
    return `${Math.floor(s / 86400)}天${Math.floor((s % 86400) / 3600)}小时`;
  }

  /** ISO timestamp -> local "HH:MM:SS". */
  function clock(iso) {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return (/(\d{2}:\d{2}:\d{2})/.exec(String(iso || '')) || [])[1] || '';
    const p = (n) => String(n).padStart(2, '0');
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }

  /** True (and remembered) when `value` differs from the last value stored under `key`. */
  function changed(store, key, value) {
    const sig = JSON.stringify(value);
    if (store[key] === sig) return false;
    store[key] = sig;
    return true;
  }

  let toastTimer = null;
  function toast(message) {
    const box = $('toast');
    box.textContent = message;
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 4000);
  }

  /** fetch wrapper: JSON in and out, CSRF on writes, 401 -> /login, API errors -> toast.
      `quiet` keeps network failures of background polls out of the toast. */
  async function api(path, { method = 'GET', body, quiet = false } = {}) {
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      init.headers['Content-Type'] = 'application/json';
      init.headers['X-CSRFToken'] = CSRF;
      init.body = JSON.stringify(body ?? {});
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      if (!quiet) toast('网络连接异常，请稍后重试');
      throw err;
    }
    if (res.status === 401) {
      window.location.href = '/login';
      throw new Error('unauthorized');
    }
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      const err = new Error(data?.error || `操作失败（${res.status}）`);
      err.status = res.status;
      toast(err.message);
      throw err;
    }
    return data || {};
  }

  /** Run fn now and again `ms` after each run ends (never overlapping); returns "run now". */
  function loop(fn, ms) {
    let timer = null;
    let busy = false;
    const run = async () => {
      if (busy) return;
      busy = true;
      clearTimeout(timer);
      try { await fn(); } catch { /* already reported */ }
      busy = false;
      timer = setTimeout(run, ms);
    };
    run();
    return run;
  }

  // ---- queue -----------------------------------------------------------------

  function queueItem(h, kind) {
    const li = el('li', kind === 'mine' ? 'queue-item mine' : 'queue-item');
    li.dataset.id = String(h.id);
    const top = el('div', 'qi-top');
    top.append(el('span', 'qi-dept', h.department_name || h.department));
    if (h.priority > 0) top.append(el('span', `badge badge-priority p${h.priority}`, '优先'));
    top.append(el('span', 'badge badge-channel', h.channel_name || h.channel));
    const meta = el('div', 'qi-meta');
    if (kind === 'mine') meta.append(el('span', 'qi-code', h.code), el('span', 'qi-state', STATE_LABELS[h.state] || h.state));
    else meta.append(el('span', 'qi-reason', h.reason_label || ''), el('span', 'qi-wait'));
    li.append(top, meta);
    if (h.preview) li.append(el('p', 'qi-preview', h.preview));
    if (kind === 'mine') {
      li.tabIndex = 0;
      li.setAttribute('role', 'button');
      li.classList.toggle('active', conv?.id === h.id);
    } else if (ROLE === 'agent') {
      const btn = el('button', 'btn btn-small btn-primary take-button', '接入');
      btn.type = 'button';
      li.append(btn);
    }
    return li;
  }

  function renderList(listId, items, kind, emptyText) {
    const list = $(listId);
    if (!list) return;
    items = items || [];
    const count = $(listId.replace('-list', '-count'));
    if (count) count.textContent = String(items.length);
    if (!items.length) {
      if (!list.querySelector('.queue-empty')) list.replaceChildren(el('li', 'queue-empty', emptyText));
      return;
    }
    // Reuse unchanged items (only the waiting time is updated) so a click is never lost mid-redraw.
    const old = new Map([...list.children].map((li) => [li.dataset.sig, li]));
    const nodes = items.map((h) => {
      const { waiting_seconds: _w, position: _p, ...rest } = h;
      const sig = JSON.stringify(rest);
      const li = old.get(sig) || queueItem(h, kind);
      li.dataset.sig = sig;
      const wait = li.querySelector('.qi-wait');
      if (wait) wait.textContent = `等待 ${duration(h.waiting_seconds)}`;
      return li;
    });
    if (nodes.length !== list.children.length || nodes.some((n, i) => list.children[i] !== n)) {
      list.replaceChildren(...nodes);
    }
  }

  async function pollQueue() {
    const data = await api('/api/queue', { quiet: true });
    renderList('waiting-list', data.waiting, 'waiting', '暂无排队客户');
    renderList('mine-list', data.mine, 'mine', '暂无进行中的会话');
    renderList('messages-list', data.messages, 'messages', '暂无留言');
    const n = (data.waiting || []).length;
    document.title = n ? `(${n}) ${BASE_TITLE}` : BASE_TITLE;
  }

  async function take(id) {
    try {
      const data = await api(`/api/handoffs/${id}/take`, { method: 'POST' });
      openConversation(data.handoff?.id ?? id);
    } catch { /* toast already shown, e.g. 409 */ }
    refreshQueue();
  }

  // ---- open conversation -----------------------------------------------------

  function setComposerEnabled(on) {
    for (const id of ['reply-text', 'send-reply', 'canned', 'resolve-button', 'transfer-department', 'transfer-button']) {
      $(id).disabled = !on;
    }
  }

  function openConversation(id) {
    if (conv) clearTimeout(conv.timer);
    conv = { id: Number(id), lastId: 0, shown: new Set(), closed: false, timer: null, busy: false };
    $('transcript').replaceChildren();
    $('conv-title').textContent = '加载中…';
    $('conv-status').hidden = true;
    $('summary').replaceChildren();
    $('notes').replaceChildren();
    setComposerEnabled(true);
    $('note-text').disabled = false;
    $('add-note').disabled = false;
    for (const li of $('mine-list').children) li.classList.toggle('active', Number(li.dataset.id) === conv.id);
    pollConversation(conv);
  }

  function pollSoon(c, ms) {
    clearTimeout(c.timer);
    c.timer = setTimeout(() => pollConversation(c), ms);
  }

  async function pollConversation(c) {
    if (conv !== c || c.busy) return;
    c.busy = true;
    try {
      const data = await api(`/api/handoffs/${c.id}?after=${c.lastId}`, { quiet: true });
      if (conv === c) renderConversation(c, data);
    } catch (err) {
      if (conv === c && !c.closed && (err.status === 403 || err.status === 404)) closeConversation(c, '无法查看此会话。');
    } finally {
      c.busy = false;
      if (conv === c && !c.closed) pollSoon(c, 1000);
    }
  }

  function renderConversation(c, data) {
    const h = data.handoff || {};
    $('conv-title').textContent = `${h.code || ''} · ${h.department_name || h.department || ''}`;
    const badge = $('conv-state');
    badge.textContent = STATE_LABELS[h.state] || h.state || '';
    badge.dataset.state = h.state || '';
    badge.hidden = !h.state;
    for (const opt of $('transfer-department').options) opt.disabled = opt.value !== '' && opt.value === h.department;
    appendTranscript(c, data.transcript || []);
    if (typeof data.last_id === 'number') c.lastId = Math.max(c.lastId, data.last_id);
    // After resolve/transfer only the handoff is known; summary and notes redraw only on change
    // (so staff can select and copy text there).
    if (data.summary && changed(c, 'summarySig', [h, data.summary])) renderSummary(h, data.summary);
    if (data.notes && changed(c, 'notesSig', data.notes)) renderNotes(data.notes);

    if (h.state === 'resolved') closeConversation(c, '本次服务已结束，会话已关闭。');
    else if (h.state === 'cancelled') closeConversation(c, '客户已离开，会话已取消。');
    else if (h.state === 'waiting' && h.agent !== ME) closeConversation(c, '会话已转出，客户回到排队中。');
  }

  function closeConversation(c, notice) {
    c.closed = true;
    clearTimeout(c.timer);
    $('conv-status').textContent = notice;
    $('conv-status').hidden = false;
    setComposerEnabled(false);
  }

  function appendTranscript(c, events) {
    const box = $('transcript');
    const stick = c.shown.size === 0 || box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    let added = false;
    for (const ev of events) {
      if (c.shown.has(ev.id)) continue; // never show an event twice
      c.shown.add(ev.id);
      c.lastId = Math.max(c.lastId, Number(ev.id) || 0);
      box.append(messageNode(ev));
      added = true;
    }
    if (added && stick) box.scrollTop = box.scrollHeight;
  }

  function messageNode(ev) {
    const who = ['customer', 'bot', 'agent'].includes(ev.who) ? ev.who : 'bot';
    const div = el('div', `msg msg-${who}`);
    div.dataset.id = String(ev.id);
    const label = { customer: '客户', bot: '智能助手', agent: `客服 ${ev.agent_name || ''}`.trim() }[who];
    const head = el('div', 'msg-head');
    head.append(el('span', 'msg-who', label), el('time', 'msg-time', clock(ev.at)));
    div.append(head, el('div', 'msg-text', ev.text || ''));
    if (Array.isArray(ev.buttons) && ev.buttons.length) {
      const chips = el('div', 'msg-buttons');
      for (const title of ev.buttons) chips.append(el('span', 'chip', title));
      div.append(chips);
    }
    return div;
  }

  /** Right pane: the handoff's context as a definition list. */
  function renderSummary(h, s) {
    const dl = el('dl', 'summary-list');
    const row = (term, value) => {
      const dd = el('dd');
      if (Array.isArray(value)) {
        const ul = el('ul', 'tag-list');
        for (const v of value) ul.append(el('li', 'tag', v));
        dd.append(value.length ? ul : el('span', 'muted', '无'));
      } else {
        dd.textContent = value === null || value === undefined || value === '' ? '—' : String(value);
      }
      dl.append(el('dt', null, term), dd);
    };
    row('工单号', h.code);
    row('转人工原因', s.reason_label || h.reason_label);
    row('部门', h.department_name || h.department);
    row('渠道', h.channel_name || h.channel);
    row('客户分层', s.segment);
    if (s.elderly) row('优先服务', '老年客户（自述），已优先排队');
    row('风险等级', s.risk_level);
    row('等待时长', duration(h.waiting_seconds));
    row('咨询意图', s.intents || []);
    row('涉及产品', s.products || []);
    row('已确认的风险揭示', s.disclosures || []);
    row('待发送的提醒', s.reminders || []);
    $('summary').replaceChildren(dl);
  }

  function renderNotes(notes) {
    const items = notes.map((n) => {
      const li = el('li', 'note');
      const head = el('div', 'note-head');
      head.append(el('span', 'note-author', n.author), el('time', 'note-time', clock(n.at)));
      li.append(head, el('div', 'note-text', n.text));
      return li;
    });
    $('notes').replaceChildren(...(items.length ? items : [el('li', 'notes-empty muted', '暂无备注')]));
  }

  // ---- agent actions ---------------------------------------------------------

  async function sendReply() {
    const box = $('reply-text');
    const text = box.value.trim();
    const c = conv;
    if (!c || c.closed || !text || $('send-reply').dataset.busy) return;
    $('send-reply').dataset.busy = '1'; // no double send while the request runs
    try {
      await api(`/api/handoffs/${c.id}/reply`, { method: 'POST', body: { text } });
      if (box.value.trim() === text) box.value = '';
      if (!c.closed) pollSoon(c, 0); // the message itself arrives through polling
    } catch { /* toast shown */ }
    delete $('send-reply').dataset.busy;
    box.focus();
  }

  async function addNote() {
    const box = $('note-text');
    const text = box.value.trim();
    const c = conv;
    if (!c || !text) return;
    try {
      await api(`/api/handoffs/${c.id}/notes`, { method: 'POST', body: { text } });
      box.value = '';
      pollSoon(c, 0); // one fetch refreshes the notes, even for a closed conversation
    } catch { /* toast shown */ }
  }

  async function changeHandoff(action, body) {
    const c = conv;
    if (!c || c.closed) return;
    try {
      const data = await api(`/api/handoffs/${c.id}/${action}`, { method: 'POST', body });
      if (conv === c && data.handoff) renderConversation(c, { handoff: data.handoff });
      if (conv === c && !c.closed) pollSoon(c, 0);
    } catch { /* toast shown */ }
    refreshQueue();
  }

  async function loadCanned() {
    try {
      const data = await api('/api/canned');
      (data.replies || []).forEach((r, i) => {
        const opt = new Option(r.title, String(i)); // Option() sets text, not HTML
        opt.dataset.text = r.text;
        $('canned').append(opt);
      });
    } catch { /* toast shown */ }
  }

  let online = false;
  function showOnline(value) {
    online = Boolean(value);
    const btn = $('online-toggle');
    btn.textContent = online ? '下线' : '上线';
    btn.setAttribute('aria-pressed', String(online));
    btn.disabled = false;
    $('online-state').textContent = online ? '在线' : '离线';
    $('online-state').classList.toggle('is-online', online);
  }

  // ---- supervisor overview ---------------------------------------------------

  /** Fill a table body from rows of [text, class] cells. */
  function tableRows(tableId, rows) {
    const tbody = document.querySelector(`#${tableId} tbody`);
    const trs = rows.map((cells) => {
      const tr = el('tr');
      for (const [text, cls] of cells) tr.append(el('td', cls, text));
      return tr;
    });
    if (!trs.length) {
      const td = el('td', 'muted', '暂无数据');
      td.colSpan = tbody.parentElement.querySelectorAll('th').length;
      trs.push(el('tr'));
      trs[0].append(td);
    }
    tbody.replaceChildren(...trs);
  }

  async function pollOverview() {
    pollQueue().catch(() => {}); // read-only waiting list
    const data = await api('/api/overview', { quiet: true });
    tableRows('queues-table', (data.queues || []).map((q) => [
      [q.department_name || q.department],
      [String(q.waiting), 'num'],
      [q.waiting ? duration(q.longest_wait_seconds) : '—', 'num'],
    ]));
    tableRows('agents-table', (data.agents || []).map((a) => [
      [a.display_name ? `${a.display_name}（${a.name}）` : a.name],
      [a.online ? '在线' : '离线', a.online ? 'status-on' : 'status-off'],
      [String(a.active), 'num'],
      [String(a.handled), 'num'],
      [a.avg_first_response_seconds == null ? '—' : Number(a.avg_first_response_seconds).toFixed(1), 'num'],
      [a.avg_satisfaction == null ? '—' : `${Number(a.avg_satisfaction).toFixed(2)}（${a.ratings}条）`, 'num'],
    ]));
    tableRows('comments-table', (data.comments || []).map((c) => [
      [c.created_at],
      [`${c.score} 分`, 'num'],
      [c.agent || '智能助手'],
      [c.comment],
    ]));
    // questions the assistant missed, waiting for a supervisor to say what the customer meant
    $('review-link').textContent = data.to_review ? `问题标注（${data.to_review} 条待标注）` : '问题标注';
    $('overview-updated').textContent = `更新于 ${clock(new Date())}`;
  }

  // ---- wiring ----------------------------------------------------------------

  function initAgent() {
    refreshQueue = loop(pollQueue, 2000);
    loadCanned();
    api('/api/me').then((me) => showOnline(me.online)).catch(() => {});

    $('online-toggle').addEventListener('click', async (e) => {
      e.currentTarget.disabled = true;
      try {
        showOnline((await api('/api/me/online', { method: 'POST', body: { online: !online } })).online);
      } catch { $('online-toggle').disabled = false; }
      refreshQueue();
    });

    // Queue (event delegation): take buttons, and opening items of 我的会话.
    $('queue').addEventListener('click', (e) => {
      const item = e.target.closest('.queue-item');
      const btn = e.target.closest('.take-button');
      if (!item) return;
      if (btn) {
        btn.disabled = true; // re-enabled when the take fails, e.g. 409
        take(Number(item.dataset.id)).finally(() => { btn.disabled = false; });
      } else if (item.classList.contains('mine')) {
        openConversation(item.dataset.id);
      }
    });
    $('queue').addEventListener('keydown', (e) => {
      const item = e.target.closest('.queue-item.mine');
      if (item && (e.key === 'Enter' || e.key === ' ')) {
        e.preventDefault();
        openConversation(item.dataset.id);
      }
    });

    // Enter sends, Shift+Enter adds a line; ignore Enter while an IME is composing.
    $('reply-text').addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        sendReply();
      }
    });
    $('send-reply').addEventListener('click', sendReply);

    $('canned').addEventListener('change', (e) => {
      const opt = e.target.selectedOptions[0];
      if (opt?.dataset.text !== undefined) {
        $('reply-text').value = opt.dataset.text;
        $('reply-text').focus();
      }
      e.target.value = '';
    });

    $('resolve-button').addEventListener('click', () => changeHandoff('resolve'));
    $('transfer-button').addEventListener('click', () => {
      const select = $('transfer-department');
      if (!select.value) { toast('请先选择要转接的部门'); return; }
      changeHandoff('transfer', { department: select.value });
      select.value = '';
    });
    $('add-note').addEventListener('click', addNote);
  }

  if (ROLE === 'supervisor') loop(pollOverview, 3000);
  else initAgent();
})();
