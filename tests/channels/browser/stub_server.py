"""The website chat channel on a bare Sanic app with a scripted bot and a scripted human agent.

Used by the channel tests in-process (python-socketio clients) and, as a process of its
own (``python stub_server.py --port N``, Rasa environment), by the browser tests of what
needs a human agent or a server restart: neither can be triggered on the real Rasa server
without adding a door to it, and this way nothing new is exposed there.

Everything goes through the production interfaces: the page's messages reach the scripted
bot through :meth:`Gateway.receive`; the bot hands the conversation to "王敏" with
:meth:`Gateway.hand_over`; while she holds it the customer's messages reach her agent
listener, which answers with :meth:`Gateway.send` and gives the conversation back when the
customer says "结束".
"""

from __future__ import annotations

import argparse
import asyncio
import uuid

from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.channels import web
from bot.channels.gateway import Gateway, Incoming

AGENT = "王敏"
HAND_OVER = "/request_human"
SLOW = "慢一点"
GREETING_TEXT = "您好，这里是测试桩。"
GREETING_BUTTONS = [
    {"title": "转人工客服", "payload": HAND_OVER},
    {"title": "看一张图", "payload": "/image"},
]
PICTURES = ["/webhooks/web/favicon.svg", "javascript:window.__xss=3", "http://example.com/plain-http.png"]


def scripted_bot(gateway: Gateway):
    """An ``on_new_message`` that answers like a tiny bot and hands over on request."""

    async def on_new_message(message: UserMessage) -> None:
        out = message.output_channel
        if message.text == "/greet":
            await out.send_text_with_buttons(message.sender_id, GREETING_TEXT, GREETING_BUTTONS)
        elif message.text == HAND_OVER:
            await out.send_text_message(message.sender_id, "正在为您转接人工客服，请稍候。")
            await gateway.hand_over(message.sender_id, AGENT)
        elif message.text == SLOW:
            await asyncio.sleep(1.5)  # long enough for the page's typing indicator to be seen
            await out.send_text_message(message.sender_id, "让您久等了。")
        elif message.text == "/image":
            for src in PICTURES:
                await out.send_image_url(message.sender_id, src)
            await out.send_text_message(message.sender_id, "图片已发送。")
        else:
            await out.send_text_message(message.sender_id, f"收到：{message.text}")

    return on_new_message


def scripted_agent(gateway: Gateway):
    """An agent listener: answers through the gateway, gives the conversation back on "结束"."""

    async def on_agent_message(incoming: Incoming, agent: str) -> None:
        if "结束" in incoming.text:
            await gateway.send(incoming.sender_id, [{"text": "感谢您的耐心，本次人工服务结束。"}])
            await gateway.hand_over(incoming.sender_id, None)
        else:
            await gateway.send(incoming.sender_id, [{"text": f"人工客服已收到：{incoming.text}"}])

    return on_agent_message


def build_app(gateway: Gateway | None = None, **credentials) -> Sanic:
    """A Sanic app serving only the website chat channel under /webhooks/web/."""
    gateway = gateway or web.gateway
    gateway.add_agent_listener(scripted_agent(gateway))
    channel = web.WebChatInput.from_credentials({"session_persistence": True, **credentials})
    app = Sanic(f"webchat_stub_{uuid.uuid4().hex[:8]}", configure_logging=False)
    app.blueprint(channel.blueprint(scripted_bot(gateway)), url_prefix="/webhooks/web")
    app.ctx.channel = channel
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    build_app().run(host="127.0.0.1", port=args.port, access_log=False)


if __name__ == "__main__":
    main()
