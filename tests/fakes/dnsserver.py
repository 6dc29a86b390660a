"""A tiny authoritative DNS server on a loopback UDP port: TXT answers from a dict, NXDOMAIN for
names it doesn't know, and on demand no answer at all (a timeout) or SERVFAIL. Built with
dnspython's own message code, so the portal's resolver reads real DNS packets."""

import socket
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class TinyDns:
    def __init__(self):
        self.txt: dict[str, list[str]] = {}  # name -> TXT values
        self.names: set[str] = set()  # names that exist with no TXT record (an empty answer)
        self.mode = "answer"  # or "silent" (never answers) or "servfail"
        self.queries: list[tuple[str, str]] = []  # (name, type) as asked
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.sock.getsockname()[1]}"

    def start(self) -> "TinyDns":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            reply = self._answer(data)
            if reply is not None:
                self.sock.sendto(reply, peer)

    def _answer(self, data: bytes) -> bytes | None:
        try:
            query = dns.message.from_wire(data)
        except Exception:  # noqa: BLE001 - a junk packet gets no answer, as from a real server
            return None
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        self.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
        if self.mode == "silent":
            return None
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if self.mode == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif name in self.txt and question.rdtype == dns.rdatatype.TXT:
            quoted = [f'"{value}"' for value in self.txt[name]]
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "TXT", quoted))
        elif name not in self.txt and name not in self.names:
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()
