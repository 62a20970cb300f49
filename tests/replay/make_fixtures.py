#!/usr/bin/env python3
"""Writes the replay fixtures: pcap and pcapng captures built byte by byte.

Usage: make_fixtures.py DIR

Every capture is generated here (nothing is a hand-edited binary), with the
standard library only. Times are fixed, so the same script always writes the
same bytes. tests/lab/test_replay.sh holds what replay must make of each file.
"""
import calendar
import random
import socket
import struct
import sys

# 2026-11-26T06:24:10Z, in microseconds.
T0 = calendar.timegm((2026, 11, 26, 6, 24, 10)) * 1_000_000
SECOND = 1_000_000
HOUR = 3600 * SECOND
DAY = 24 * HOUR

VM_MAC = bytes.fromhex("52540000000a")
HV_MAC = bytes.fromhex("52540000000b")

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113
LINKTYPE_USER0 = 147
LINKTYPE_LINUX_SLL2 = 276

TCP_FIN, TCP_SYN, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x08, 0x10


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def family_of(address):
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def tcp(source, destination, source_port, destination_port, flags, payload=b"", seq=1000):
    """A TCP segment with a correct checksum; SYNs carry an MSS option."""
    options = struct.pack("!BBH", 2, 4, 1460) if flags & TCP_SYN else b""
    offset = (20 + len(options)) // 4
    ack = 1 if flags & TCP_ACK else 0
    header = struct.pack("!HHIIBBHHH", source_port, destination_port, seq, ack, offset << 4,
                         flags, 64240, 0, 0) + options
    family = family_of(source)
    addresses = socket.inet_pton(family, source) + socket.inet_pton(family, destination)
    length = len(header) + len(payload)
    if family == socket.AF_INET:
        pseudo = addresses + struct.pack("!BBH", 0, 6, length)
    else:
        pseudo = addresses + struct.pack("!IxxxB", length, 6)
    total = checksum(pseudo + header + payload)
    return header[:16] + struct.pack("!H", total) + header[18:] + payload


def ip(source, destination, payload, protocol=6, ident=1):
    """An IPv4 or IPv6 packet around payload; returns (ethertype, bytes)."""
    if family_of(source) == socket.AF_INET:
        header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF,
                             0x4000, 64, protocol, 0, socket.inet_aton(source),
                             socket.inet_aton(destination))
        header = header[:10] + struct.pack("!H", checksum(header)) + header[12:]
        return 0x0800, header + payload
    header = struct.pack("!IHBB16s16s", 6 << 28, len(payload), protocol, 64,
                         socket.inet_pton(socket.AF_INET6, source),
                         socket.inet_pton(socket.AF_INET6, destination))
    return 0x86DD, header + payload


def ethernet(ethertype, packet, source_mac=VM_MAC, destination_mac=HV_MAC):
    return destination_mac + source_mac + struct.pack("!H", ethertype) + packet


def segment(source, destination, source_port, destination_port, flags, payload=b"", ident=1):
    """An Ethernet frame carrying one TCP segment."""
    return ethernet(*ip(source, destination,
                        tcp(source, destination, source_port, destination_port, flags,
                            payload), ident=ident))


def syn(source, destination, source_port, destination_port, ident=1):
    return segment(source, destination, source_port, destination_port, TCP_SYN, ident=ident)


def spam_burst(start, sources=("10.0.0.5",), destination="10.0.1.2", count=60, spacing_ms=33):
    """count SYNs to port 25, one every spacing_ms, the sources taking turns."""
    return [(start + i * spacing_ms * 1000,
             syn(sources[i % len(sources)], destination, 40000 + i, 25, ident=i))
            for i in range(count)]


def smtp_session(start, client, server, client_port):
    """An honest mail: handshake, envelope, quit, and the server's side."""
    lines = [b"EHLO vm.example.com\r\n", b"MAIL FROM:<vm@example.com>\r\n",
             b"RCPT TO:<user@example.net>\r\n", b"DATA\r\n", b"hello\r\n.\r\n", b"QUIT\r\n"]
    frames = [(start, syn(client, server, client_port, 25)),
              (start + 300, segment(server, client, 25, client_port, TCP_SYN | TCP_ACK)),
              (start + 600, segment(client, server, client_port, 25, TCP_ACK))]
    for i, line in enumerate(lines):
        frames.append((start + 10_000 * (i + 1),
                       segment(client, server, client_port, 25, TCP_PSH | TCP_ACK, line)))
    frames.append((start + 80_000, segment(client, server, client_port, 25, TCP_FIN | TCP_ACK)))
    return frames


def web_get(start, client, server, client_port, path):
    request = b"GET " + path + b" HTTP/1.1\r\nHost: example.net\r\nUser-Agent: fixture\r\n\r\n"
    return [(start, syn(client, server, client_port, 80)),
            (start + 300, segment(server, client, 80, client_port, TCP_SYN | TCP_ACK)),
            (start + 600, segment(client, server, client_port, 80, TCP_ACK)),
            (start + 900, segment(client, server, client_port, 80, TCP_PSH | TCP_ACK, request))]


def arp_request(sender, target="10.0.0.1", mac=VM_MAC):
    """The VM asks for its gateway: its own address is the sender's."""
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(sender),
                       bytes(6), socket.inet_aton(target))
    return b"\xff" * 6 + mac + struct.pack("!H", 0x0806) + body


def write_pcap(path, frames, linktype=LINKTYPE_ETHERNET, snaplen=262144):
    """Classic pcap, microsecond time stamps; frames are (time_us, bytes)."""
    with open(path, "wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype))
        for time_us, frame in frames:
            captured = frame[:snaplen]
            out.write(struct.pack("<IIII", time_us // SECOND, time_us % SECOND, len(captured),
                                  len(frame)))
            out.write(captured)


def pcapng_block(block_type, body, order="<"):
    body += b"\0" * (-len(body) % 4)
    length = 12 + len(body)
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def pcapng_option(code, value, order="<"):
    return struct.pack(order + "HH", code, len(value)) + value + b"\0" * (-len(value) % 4)


def write_pcapng(path, frames, linktype=LINKTYPE_ETHERNET, interfaces=(None,), order="<"):
    """pcapng with nanosecond time stamps (if_tsresol = 9), in the byte order
    given. frames are (time_us, frame) on the first interface, or (time_us,
    frame, interface number); interfaces are their if_name options (None:
    unnamed). A name resolution block stands between the interfaces and the
    packets, and an interface statistics block ends the file, as dumpcap
    writes them: a reader skips both."""
    section = struct.pack(order + "IHHq", 0x1A2B3C4D, 1, 0, -1)
    with open(path, "wb") as out:
        out.write(pcapng_block(0x0A0D0D0A, section, order))
        for name in interfaces:
            options = pcapng_option(9, b"\x09", order)
            if name is not None:
                options += pcapng_option(2, name.encode(), order)
            out.write(pcapng_block(0x00000001, struct.pack(order + "HHI", linktype, 0, 262144)
                                   + options + struct.pack(order + "HH", 0, 0), order))
        out.write(pcapng_block(0x00000004, struct.pack(order + "HH", 0, 0), order))
        for time_us, frame, *interface in frames:
            time_ns = time_us * 1000
            out.write(pcapng_block(0x00000006, struct.pack(
                order + "IIIII", interface[0] if interface else 0, time_ns >> 32,
                time_ns & 0xFFFFFFFF, len(frame), len(frame)) + frame, order))
        out.write(pcapng_block(0x00000005, struct.pack(order + "IIIHH", 0, 0, 0, 0, 0), order))


def write_pcapng_simple(path, frames, linktype=LINKTYPE_ETHERNET):
    """pcapng of Simple Packet Blocks: the packets with no time stamp at all."""
    section = struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)
    interface = struct.pack("<HHI", linktype, 0, 262144)
    with open(path, "wb") as out:
        out.write(pcapng_block(0x0A0D0D0A, section))
        out.write(pcapng_block(0x00000001, interface))
        for _, frame in frames:
            out.write(pcapng_block(0x00000003, struct.pack("<I", len(frame)) + frame))


def cooked(frames, version, ifindex_in=2, ifindex_out=3):
    """What tcpdump -i any writes on the hypervisor: each VM packet arrives on
    the VM's interface and, forwarded, leaves on the uplink (outgoing)."""
    result = []
    for time_us, frame in frames:
        protocol, payload = frame[12:14], frame[14:]
        for offset, packet_type, ifindex in ((0, 0, ifindex_in), (20, 4, ifindex_out)):
            if version == 1:
                header = struct.pack("!HHH8s", packet_type, 1, 6, VM_MAC) + protocol
            else:
                header = protocol + struct.pack("!HIHBB8s", 0, ifindex, 1, packet_type, 6, VM_MAC)
            result.append((time_us + offset, header + payload))
    return result


def main():
    directory = sys.argv[1]
    spam = spam_burst(T0)

    # One VM, 60 SYNs to port 25 in 2 s: one ban, at the 30th SYN.
    write_pcap(f"{directory}/spam.pcap", spam)
    write_pcapng(f"{directory}/spam.pcapng", spam)
    write_pcap(f"{directory}/spam-sll.pcap", cooked(spam, 1), LINKTYPE_LINUX_SLL)
    write_pcap(f"{directory}/spam-sll2.pcap", cooked(spam, 2), LINKTYPE_LINUX_SLL2)
    write_pcap(f"{directory}/spam-raw.pcap", [(t, f[14:]) for t, f in spam], LINKTYPE_RAW)
    write_pcap(f"{directory}/spam-user0.pcap", spam, LINKTYPE_USER0)

    # A port scan from 10.0.0.6: 1024 ports of one host (25 among them, once),
    # then port 22 on 254 hosts, all within 3 s.
    scan = [(T0 + i * 1000, syn("10.0.0.6", "10.0.1.2", 50000, port, ident=i))
            for i, port in enumerate(range(1, 1025))]
    scan += [(T0 + 2 * SECOND + i * 1000, syn("10.0.0.6", f"10.0.1.{i}", 50001, 22, ident=i))
             for i in range(1, 255)]
    write_pcap(f"{directory}/scan.pcap", scan)

    # Replies toward the VM longer than the XDP test run takes: a SYN-ACK of
    # 3600 bytes (the skb test run takes it), then one of 5000 (neither does).
    reply_long = [(T0, syn("10.0.0.6", "10.0.1.2", 50000, 80))]
    for i, size in enumerate((3600, 5000)):
        padding = bytes(size - 14 - 20 - 24)
        reply_long.append((T0 + (i + 1) * 1000,
                           ethernet(*ip("10.0.1.2", "10.0.0.6",
                                        tcp("10.0.1.2", "10.0.0.6", 80, 50000,
                                            TCP_SYN | TCP_ACK, padding)),
                                    source_mac=HV_MAC, destination_mac=VM_MAC)))
    write_pcap(f"{directory}/reply-long.pcap", reply_long)

    # A crawler from 10.0.0.7: 200 pages in 20 s, never asking for robots.txt.
    crawl = []
    for i in range(200):
        crawl += web_get(T0 + i * 100_000, "10.0.0.7", "10.0.1.2", 30000 + i,
                         b"/page/%d" % i)
    write_pcap(f"{directory}/crawl.pcap", crawl)

    # An honest VM: 5 mails two minutes apart, and a few web pages.
    honest = []
    for i in range(5):
        honest += smtp_session(T0 + i * 120 * SECOND, "10.0.0.5", "10.0.1.2", 41000 + i)
        honest += web_get(T0 + i * 120 * SECOND + 30 * SECOND, "10.0.0.5", "10.0.1.2",
                          42000 + i, b"/")
    write_pcap(f"{directory}/honest.pcap", sorted(honest, key=lambda item: item[0]))

    # The ladder on capture time: a burst (1 h ban), another 2 h later, 1 h
    # after that ban ended (1 week), a third 1 h later, during that ban.
    write_pcap(f"{directory}/ladder.pcap",
               spam_burst(T0) + spam_burst(T0 + 2 * HOUR) + spam_burst(T0 + 3 * HOUR))

    # IPv6, a day later: two addresses of one /64 take turns, 30 SYNs each.
    write_pcap(f"{directory}/ipv6.pcap",
               spam_burst(T0 + DAY, sources=("fd00:5::5", "fd00:5::6"),
                          destination="fd00:1::2"))

    # Attribution; test_replay's policy gives tap-a 10.0.0.5 and tap-b 10.0.0.6.
    # The VM on tap-a sends 150 SYNs to port 25 (30 a second) forging tap-b's address.
    forged = spam_burst(T0, sources=("10.0.0.6",), count=150)
    write_pcap(f"{directory}/forged.pcap", forged)
    # A VM that asks for its gateway by ARP as 10.0.0.7, then forges 10.0.0.9 (nobody's).
    write_pcap(f"{directory}/learned.pcap",
               [(T0 - SECOND, arp_request("10.0.0.7"))]
               + spam_burst(T0, sources=("10.0.0.9",), count=150))
    # tcpdump -i any on the hypervisor (cooked v2): tap-a (index 2) forges tap-b's
    # address while tap-b (index 3) really spams, 10 ms after each of tap-a's SYNs;
    # both are forwarded out of the uplink (index 4).
    honest_b = [(t + 10_000, frame) for t, frame in spam_burst(T0, sources=("10.0.0.6",))]
    write_pcap(f"{directory}/two-vms-sll2.pcap",
               sorted(cooked(forged, 2, ifindex_in=2, ifindex_out=4)
                      + cooked(honest_b, 2, ifindex_in=3, ifindex_out=4),
                      key=lambda item: item[0]), LINKTYPE_LINUX_SLL2)
    # The same two VMs in a pcapng capture of three interfaces, as dumpcap -i
    # tap-a -i tap-b -i eth0 writes it: each packet names its interface block,
    # and the uplink's copies (eth0, 20 us later) are no VM's. Once in each byte order.
    uplink = [(t + 20, frame, 2) for t, frame in forged + honest_b]
    two_vms = sorted([(t, frame, 0) for t, frame in forged]
                     + [(t, frame, 1) for t, frame in honest_b] + uplink, key=lambda item: item[0])
    for suffix, order in (("", "<"), ("-be", ">")):
        write_pcapng(f"{directory}/two-vms{suffix}.pcapng", two_vms,
                     interfaces=("tap-a", "tap-b", "eth0"), order=order)

    # Damaged captures of the spam burst.
    write_pcap(f"{directory}/snaplen.pcap", spam, snaplen=34)  # Ethernet + IPv4, no TCP
    out_of_order = list(spam)
    out_of_order[9] = (T0 - 5 * SECOND, spam[9][1])  # packet 10: 5 s in the past
    write_pcap(f"{directory}/out-of-order.pcap", out_of_order)
    # Time stamps that are no time: all at the epoch, none at all, one far in the future.
    write_pcap(f"{directory}/epoch.pcap", [(0, frame) for _, frame in spam])
    write_pcapng_simple(f"{directory}/simple.pcapng", spam)
    future = list(spam)
    future[9] = (2114380800 * SECOND, spam[9][1])  # packet 10: 2037-01-01
    write_pcap(f"{directory}/future.pcap", future)
    with open(f"{directory}/spam.pcap", "rb") as source:
        whole = source.read()
    record = 16 + len(spam[0][1])
    with open(f"{directory}/truncated.pcap", "wb") as out:
        out.write(whole[:24 + 44 * record + 16 + len(spam[0][1]) // 2])  # in packet 45

    # Not a capture at all.
    with open(f"{directory}/garbage.pcap", "wb") as out:
        out.write(b"this is not a capture\n" + random.Random(7).randbytes(4096))


if __name__ == "__main__":
    main()
