/* 云澜银行 website chat: a small widget for Rasa's socket.io channel (bot/channels/web.py).
 *
 * Safety rule of this file: text from a message (the bot's, an agent's or the customer's)
 * reaches the page only through textContent or, for images, img.src after a URL check,
 * never as HTML. The page's Content-Security-Policy forbids inline scripts as a second line.
 *
 * State kept in the browser: the conversation id in localStorage (a reload or a new tab
 * continues the same conversation), the messages shown and who holds the conversation in
 * sessionStorage (a reload shows them again; closing the tab forgets them, which suits
 * a shared computer).
 */
(function () {
  "use strict";

  var TEXT = {
    you: "我：",
    bot: "小澜：",
    choices: "快捷选项",
    image: "图片",
    subtitleBot: "智能助手小澜为您服务",
    subtitleAgent: function (name) { return "人工客服 " + name + " 为您服务"; },
    agentBanner: function (name) { return "已接通人工客服 " + name; },
    agentJoined: function (name) { return "已接通人工客服 " + name + "，接下来由人工为您服务。"; },
    botBack: "人工服务已结束，已转回智能客服小澜，您可以继续提问。",
    privacy: "请勿在对话中透露密码、验证码等信息。",
    remaining: function (n) { return "还可以输入 " + n + " 个字。"; },
    limit: function (n) { return "已达到 " + n + " 字上限，内容较多时请分几条发送，谢谢。"; },
    unavailable: "暂时无法连接在线客服，请稍后刷新页面重试。"
  };
  var KEY = {
    session: "yunlan.webchat.session_id",
    history: "yunlan.webchat.history",
    agent: "yunlan.webchat.agent"
  };
  var GREETING = "/greet"; // the greet intent: the bot answers with the capability menu
  var HISTORY_LIMIT = 200;
  var TYPING_TIMEOUT_MS = 20000;

  var els = {
    chat: document.getElementById("chat"),
    subtitle: document.getElementById("subtitle"),
    connection: document.getElementById("connection-banner"),
    agent: document.getElementById("agent-banner"),
    messages: document.getElementById("messages"),
    typing: document.getElementById("typing"),
    composer: document.getElementById("composer"),
    input: document.getElementById("input"),
    send: document.getElementById("send"),
    note: document.getElementById("input-note")
  };

  var local = storageOrNull("localStorage");
  var tab = storageOrNull("sessionStorage");
  var config = null;
  var socket = null;
  var sessionId = load(local, KEY.session, null);
  var history = sanitizeHistory(load(tab, KEY.history, []));
  var agent = load(tab, KEY.agent, null);
  var ready = false;
  var greetingSent = false;
  var typingTimer = null;
  var maxChars = parseInt(els.input.getAttribute("maxlength"), 10) || 500;
  var composing = false;

  // --- storage -------------------------------------------------------------
  function storageOrNull(name) {
    try {
      return window[name]; // reading the property throws when the browser blocks site data
    } catch (e) {
      return null;
    }
  }

  function load(storage, key, fallback) {
    if (!storage) return fallback;
    try {
      var raw = storage.getItem(key);
      return raw === null ? fallback : JSON.parse(raw);
    } catch (e) {
      return fallback;
    }
  }

  function save(storage, key, value) {
    if (!storage) return;
    try {
      storage.setItem(key, JSON.stringify(value));
    } catch (e) { /* private mode or full: the chat still works, it just will not survive a reload */ }
  }

  function isText(value) { return typeof value === "string"; }

  function sanitizeHistory(entries) {
    if (!Array.isArray(entries)) return [];
    return entries.filter(function (e) {
      return e && (e.who === "user" || e.who === "bot" || e.who === "notice");
    }).slice(-HISTORY_LIMIT);
  }

  // --- rendering (textContent only) ---------------------------------------
  function el(tag, className) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    return node;
  }

  function render(entry, index) {
    var row;
    if (entry.who === "notice") {
      row = el("p", "notice");
      row.textContent = isText(entry.text) ? entry.text : "";
    } else {
      row = el("div", "row row-" + entry.who);
      var bubble = el("div", "bubble bubble-" + entry.who);
      var speaker = el("span", "visually-hidden");
      speaker.textContent = entry.who === "user" ? TEXT.you : (isText(entry.agent) ? entry.agent + "：" : TEXT.bot);
      bubble.appendChild(speaker);
      if (isText(entry.text) && entry.text) {
        var text = el("span", "bubble-text");
        text.textContent = entry.text;
        bubble.appendChild(text);
      }
      var src = isText(entry.image) ? safeImageUrl(entry.image) : null;
      if (src) {
        var img = el("img", "bubble-image");
        img.alt = TEXT.image;
        img.loading = "lazy";
        img.referrerPolicy = "no-referrer";
        img.src = src;
        bubble.appendChild(img);
      }
      row.appendChild(bubble);
      if (Array.isArray(entry.buttons) && entry.buttons.length) {
        var chips = el("div", "chips");
        chips.setAttribute("role", "group");
        chips.setAttribute("aria-label", TEXT.choices);
        entry.buttons.forEach(function (button) {
          if (!button || !isText(button.title) || !isText(button.payload)) return;
          var chip = el("button", "chip");
          chip.type = "button";
          chip.textContent = button.title;
          chip.addEventListener("click", function () {
            if (sendMessage(button.payload, button.title, button.payload_sig)) chip.classList.add("chip-chosen");
          });
          chips.appendChild(chip);
        });
        row.appendChild(chips);
      }
    }
    row.dataset.index = String(index);
    els.messages.appendChild(row);
  }

  // Only the choices offered since the customer last spoke can be clicked: an older
  // menu answered a question the conversation has moved past.
  function refreshChips() {
    var lastUser = -1;
    history.forEach(function (entry, i) { if (entry.who === "user") lastUser = i; });
    var rows = els.messages.querySelectorAll(".row");
    Array.prototype.forEach.call(rows, function (row) {
      var stale = parseInt(row.dataset.index, 10) < lastUser;
      Array.prototype.forEach.call(row.querySelectorAll(".chip"), function (chip) {
        chip.disabled = stale || !ready;
      });
    });
  }

  function scrollToEnd() {
    els.messages.scrollTop = els.messages.scrollHeight;
  }

  function addEntry(entry) {
    history.push(entry);
    if (history.length > HISTORY_LIMIT) {
      history = history.slice(-HISTORY_LIMIT);
      renderAll();
    } else {
      render(entry, history.length - 1);
    }
    save(tab, KEY.history, history);
    refreshChips();
    scrollToEnd();
  }

  function renderAll() {
    els.messages.textContent = "";
    history.forEach(render);
    refreshChips();
    scrollToEnd();
  }

  function safeImageUrl(src) {
    src = src.trim();
    var url;
    try {
      url = new URL(src, window.location.href);
    } catch (e) {
      return null;
    }
    if (url.protocol === "https:") return url.href;
    var relative = !/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(src) && src.indexOf("//") !== 0 && src.indexOf("\\") === -1;
    return relative && url.origin === window.location.origin ? url.href : null;
  }

  // --- state shown around the messages -------------------------------------
  function setState(state) {
    els.chat.dataset.state = state;
    els.connection.hidden = state !== "reconnecting";
  }

  function showTyping() {
    els.typing.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
    scrollToEnd();
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    els.typing.hidden = true;
  }

  function renderAgent() {
    if (agent) {
      els.agent.textContent = TEXT.agentBanner(agent);
      els.agent.hidden = false;
      els.subtitle.textContent = TEXT.subtitleAgent(agent);
      els.chat.dataset.agent = agent;
    } else {
      els.agent.hidden = true;
      els.agent.textContent = "";
      els.subtitle.textContent = TEXT.subtitleBot;
      delete els.chat.dataset.agent;
    }
  }

  function updateComposer() {
    var length = els.input.value.length;
    els.send.disabled = !ready || els.input.value.trim() === "";
    if (length >= maxChars) {
      els.note.textContent = TEXT.limit(maxChars);
    } else if (length >= maxChars - 50) {
      els.note.textContent = TEXT.remaining(maxChars - length);
    } else {
      els.note.textContent = TEXT.privacy;
    }
  }

  // --- talking to the server -----------------------------------------------
  /* `signature`: the server's signature of a button's payload, which makes the payload a command;
     anything typed is text. */
  function emit(message, signature) {
    var data = { message: message, session_id: sessionId };
    if (isText(signature)) data.metadata = { payload_sig: signature };
    socket.emit(config.user_message_evt, data);
    if (!agent) showTyping();
  }

  /* Sends `message` (text or a button's payload with its signature); the customer sees `shown`. */
  function sendMessage(message, shown, signature) {
    if (!ready) return false;
    emit(message, signature);
    addEntry({ who: "user", text: shown });
    return true;
  }

  function onSessionConfirm(data) {
    var id = isText(data) ? data : (data && isText(data.session_id) ? data.session_id : null);
    if (!id) return;
    if (sessionId && id !== sessionId) {
      // the server started a new conversation: what was shown belongs to the old one
      history = [];
      agent = null;
      save(tab, KEY.history, history);
      save(tab, KEY.agent, agent);
      renderAll();
      renderAgent();
    }
    sessionId = id;
    save(local, KEY.session, id);
    els.chat.dataset.session = id;
    ready = true;
    setState("ready");
    updateComposer();
    refreshChips();
    if (history.length === 0 && !greetingSent) {
      greetingSent = true;
      emit(GREETING);
    }
  }

  function onBotMessage(message) {
    hideTyping();
    if (!message || typeof message !== "object") return;
    var entry = { who: "bot" };
    if (isText(message.text)) entry.text = message.text;
    var buttons = message.quick_replies || message.buttons;
    if (Array.isArray(buttons)) {
      entry.buttons = buttons.filter(function (b) {
        return b && isText(b.title) && isText(b.payload);
      }).map(function (b) {
        var button = { title: b.title, payload: b.payload };
        if (isText(b.payload_sig)) button.payload_sig = b.payload_sig;
        return button;
      });
    }
    var attachment = message.attachment;
    if (attachment && attachment.type === "image" && attachment.payload && isText(attachment.payload.src)) {
      // kept as sent, and checked again each time it is drawn (also from the stored history)
      if (safeImageUrl(attachment.payload.src)) entry.image = attachment.payload.src;
    }
    if (agent) entry.agent = agent;
    if (!entry.text && !entry.image && !(entry.buttons && entry.buttons.length)) return; // custom payloads
    addEntry(entry);
  }

  function onAgentStatus(data) {
    var next = data && isText(data.agent) && data.agent ? data.agent : null;
    if (next !== agent) {
      var previous = agent;
      agent = next;
      save(tab, KEY.agent, agent);
      if (agent) {
        hideTyping();
        addEntry({ who: "notice", text: TEXT.agentJoined(agent) });
      } else if (previous) {
        addEntry({ who: "notice", text: TEXT.botBack });
      }
    }
    renderAgent();
  }

  function connectionLost() {
    ready = false;
    hideTyping();
    setState("reconnecting");
    updateComposer();
    refreshChips();
  }

  function start(cfg) {
    config = cfg;
    if (cfg.max_message_chars) {
      maxChars = cfg.max_message_chars;
      els.input.maxLength = maxChars;
    }
    var namespace = cfg.namespace && cfg.namespace !== "/" ? cfg.namespace : "";
    socket = window.io(window.location.origin + namespace, { path: cfg.socket_path });
    socket.on("connect", function () {
      socket.emit("session_request", { session_id: sessionId });
    });
    socket.on("session_confirm", onSessionConfirm);
    socket.on(cfg.bot_message_evt, onBotMessage);
    socket.on(cfg.agent_status_evt, onAgentStatus);
    socket.on("disconnect", function (reason) {
      connectionLost();
      if (reason === "io server disconnect") socket.connect(); // the client does not retry this one by itself
    });
    socket.on("connect_error", connectionLost);
  }

  // --- wiring ---------------------------------------------------------------
  els.input.addEventListener("input", updateComposer);
  // Enter that picks a candidate in a Chinese input method must not send the half-typed text
  els.input.addEventListener("compositionstart", function () { composing = true; });
  els.input.addEventListener("compositionend", function () {
    setTimeout(function () { composing = false; }, 0); // Safari sends the Enter's keydown after compositionend
  });
  els.input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (composing || event.isComposing || event.keyCode === 229)) event.preventDefault();
  });
  els.composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = els.input.value.trim();
    if (!text) return;
    if (sendMessage(text, text)) {
      els.input.value = "";
      updateComposer();
    }
  });

  setState("connecting");
  renderAll();
  renderAgent();
  updateComposer();

  if (typeof window.io !== "function") {
    els.note.textContent = TEXT.unavailable;
    return;
  }
  fetch("config.json", { credentials: "same-origin", cache: "no-store" })
    .then(function (r) { return r.ok ? r.json() : Promise.reject(new Error(String(r.status))); })
    .then(start)
    .catch(function () {
      els.note.textContent = TEXT.unavailable;
    });
})();
