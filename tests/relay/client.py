"""The independent XMPP client of the relay tests: Debian's slixmpp (1.8.3, run with /usr/bin/python3), with
raw handlers so that what is checked is the XML the server delivered, not a plugin's reading of it."""

import asyncio
import os
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS = "jabber:client"
MUC_USER = "http://jabber.org/protocol/muc#user"
MAM = "urn:xmpp:mam:2"
FORWARD = "urn:xmpp:forward:0"


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, ca_file=None):
        super().__init__(jid, password)
        self.ready = asyncio.Event()
        self.failed = None
        self.groupchat = []  # live groupchat messages (ET elements), in arrival order
        self.arrived = asyncio.Event()
        self.errors = []  # message errors
        self.mam = {}  # queryid -> forwarded messages
        self.presences = []
        self.on_groupchat = None  # called with each live groupchat message as it arrives (benchmarks)
        self["feature_mechanisms"].unencrypted_plain = True
        if ca_file:
            self.ca_certs = ca_file
        self.add_event_handler("session_start", lambda _: self.ready.set())
        self.add_event_handler("failed_auth", lambda _: setattr(self, "failed", "authentication failed"))
        self.register_handler(Callback("raw message", MatchXPath(f"{{{NS}}}message"), self._message))
        self.register_handler(Callback("raw presence", MatchXPath(f"{{{NS}}}presence"), self._presence))

    def _message(self, msg):
        xml = msg.xml
        result = xml.find(f"{{{MAM}}}result")
        if result is not None:
            fwd = result.find(f"{{{FORWARD}}}forwarded/{{{NS}}}message")
            if fwd is not None:
                self.mam.setdefault(result.get("queryid"), []).append(fwd)
            return
        if xml.get("type") == "error":
            self.errors.append(xml)
        elif xml.get("type") == "groupchat":
            self.groupchat.append(xml)
            if self.on_groupchat:
                self.on_groupchat(xml)
        self.arrived.set()

    def _presence(self, pres):
        self.presences.append(pres.xml)

    async def start(self, port, tls=False, timeout=20):
        if tls:
            self.connect(address=("127.0.0.1", port), force_starttls=True)
        else:
            self.connect(address=("127.0.0.1", port), force_starttls=False, disable_starttls=True)
        await asyncio.wait_for(self.ready.wait(), timeout)
        if self.failed:
            raise RuntimeError(self.failed)

    async def join(self, room, nick, timeout=15):
        """Joins without history; returns our role in the room."""
        pres = self.make_presence(pto=f"{room}/{nick}")
        pres.xml.append(ET.fromstring("<x xmlns='http://jabber.org/protocol/muc'><history maxstanzas='0'/></x>"))
        pres.send()
        end = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < end:
            for p in self.presences:
                if p.get("from") != f"{room}/{nick}":
                    continue
                if p.get("type") == "error":
                    raise RuntimeError(f"join refused: {ET.tostring(p, encoding='unicode')}")
                x = p.find(f"{{{MUC_USER}}}x")
                if x is not None and any(s.get("code") == "110" for s in x.findall(f"{{{MUC_USER}}}status")):
                    return x.find(f"{{{MUC_USER}}}item").get("role")
            await asyncio.sleep(0.05)
        raise TimeoutError(f"no self-presence from {room}/{nick} within {timeout} s")

    async def say(self, room, text, wait=3.0):
        """Sends a groupchat message; returns 'refused' (an error came back) or 'accepted' (it was echoed)."""
        before = len(self.errors)
        msg = self.make_message(mto=room, mbody=text, mtype="groupchat")
        msg.send()
        end = asyncio.get_running_loop().time() + wait
        while asyncio.get_running_loop().time() < end:
            if len(self.errors) > before:
                return "refused"
            if any(m.findtext(f"{{{NS}}}body") == text for m in self.groupchat):
                return "accepted"
            await asyncio.sleep(0.05)
        return "silent"

    async def history(self, room, queryid, limit=500):
        """MAM (XEP-0313) query on the room: the archived messages, oldest first (RSM pages followed)."""
        after = None
        while True:
            iq = self.make_iq_set(ito=room)
            rsm = f"<max>{limit}</max>" + (f"<after>{after}</after>" if after else "")
            iq.xml.append(ET.fromstring(
                f"<query xmlns='{MAM}' queryid='{queryid}'><set xmlns='http://jabber.org/protocol/rsm'>{rsm}</set></query>"))
            res = await iq.send(timeout=20)
            if os.environ.get("RELAY_DEBUG"):
                print("    MAM page:", ET.tostring(res.xml, encoding="unicode")[:300], len(self.mam.get(queryid, [])))
            fin = res.xml.find(f"{{{MAM}}}fin")
            last = fin.findtext("{http://jabber.org/protocol/rsm}set/{http://jabber.org/protocol/rsm}last")
            if fin.get("complete") in ("true", "1") or not last or last == after:
                return self.mam.get(queryid, [])
            after = last

    def changes(self):
        """The live groupchat messages that carry an <rc> (not the room's subject and the like)."""
        return [m for m in self.groupchat if m.find(f"{{{NS}}}rc") is not None]

    async def wait_changes(self, count, timeout):
        end = asyncio.get_running_loop().time() + timeout
        while len(self.changes()) < count and asyncio.get_running_loop().time() < end:
            self.arrived.clear()
            try:
                await asyncio.wait_for(self.arrived.wait(), max(0.01, end - asyncio.get_running_loop().time()))
            except asyncio.TimeoutError:
                break
        return self.changes()

    async def stop(self):
        self.disconnect()
        try:
            await asyncio.wait_for(self.disconnected, 5)
        except (asyncio.TimeoutError, TypeError):
            pass
