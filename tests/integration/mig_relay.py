# mig_relay.py: the command behind an exec: migration URI in the tests. It
# carries its stdin/stdout (tern's end of the stream) to a Unix socket and
# back: `connect PATH` dials PATH, `listen PATH` waits for one peer there.
import os
import select
import socket
import sys


def main():
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "listen":
        lst = socket.socket(socket.AF_UNIX)
        if os.path.exists(path):
            os.unlink(path)
        lst.bind(path)
        lst.listen(1)
        peer, _ = lst.accept()
        lst.close()
        os.unlink(path)
    else:
        peer = socket.socket(socket.AF_UNIX)
        peer.connect(path)
    ends = {0: peer.fileno(), peer.fileno(): 1}
    open_ = {0, peer.fileno()}
    while open_:
        ready, _, _ = select.select(list(open_), [], [])
        for fd in ready:
            data = os.read(fd, 1 << 16)
            if not data:
                if fd != 0:
                    return          # the far end is done: so is the relay
                open_.discard(fd)
                peer.shutdown(socket.SHUT_WR)
                continue
            view = memoryview(data)
            while view:
                view = view[os.write(ends[fd], view):]


if __name__ == "__main__":
    main()
