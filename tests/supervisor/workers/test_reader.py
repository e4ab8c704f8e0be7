"""SocketReader: a socket read on its own thread, every message handed on, stopped cleanly."""

from __future__ import annotations

import queue

import zmq

from supervisor.workers.reader import SocketReader


def test_every_message_is_handed_on_in_order_then_stop_closes_the_socket() -> None:
    got: queue.Queue[list[bytes]] = queue.Queue()
    reader = SocketReader(zmq.PULL, "test-reader", got.put)
    reader.socket.bind("tcp://127.0.0.1:*")
    endpoint = reader.socket.getsockopt_string(zmq.LAST_ENDPOINT)
    reader.start()
    context = zmq.Context()
    push = context.socket(zmq.PUSH)
    push.linger = 0
    push.connect(endpoint)
    try:
        push.send(b"one")
        push.send_multipart([b"two", b"parts"])
        assert got.get(timeout=5) == [b"one"]
        assert got.get(timeout=5) == [b"two", b"parts"]
    finally:
        push.close()
        context.term()
        reader.stop()
    assert reader.socket.closed
