"""A raw h2c (prior knowledge) client for the bff suite's checks that curl
cannot make: resetting streams while their request is served, and a client
that reads none of its answers (h2 library)."""
import subprocess
import time


def h2c_open(port, rcvbuf=None, big_window=False):
    """A raw h2c (prior knowledge) connection with the h2 library: the
    socket and the connection state. rcvbuf shrinks the socket's receive
    buffer (before connecting); big_window opens every flow-control window
    wide, so only TCP holds the server's answers back."""
    import h2.config
    import h2.connection
    import h2.settings
    import socket
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                header_encoding="utf-8"))
    conn.initiate_connection()
    if big_window:
        conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 2 ** 31 - 1})
        conn.increment_flow_control_window(2 ** 31 - 1 - 65535)
    s.sendall(conn.data_to_send())
    return s, conn


def h2c_get(conn, path, tok):
    """Sends a GET on a new stream; returns its id."""
    sid = conn.get_next_available_stream_id()
    conn.send_headers(sid, [(":method", "GET"), (":path", path), (":scheme", "http"),
                            (":authority", "127.0.0.1"), ("authorization", "Bearer " + tok)],
                      end_stream=True)
    return sid


def h2c_collect(s, conn, ids, limit=15.0):
    """Reads until every stream in ids ended or was reset: {id: (status,
    body)} (status 0: reset by the server)."""
    import h2.events
    out, bodies, status = {}, {}, {}
    until = time.time() + limit
    while len(out) < len(ids) and time.time() < until:
        data = s.recv(65536)
        if not data:
            break
        for ev in conn.receive_data(data):
            sid = getattr(ev, "stream_id", None)
            if isinstance(ev, h2.events.ResponseReceived):
                status[sid] = int(dict(ev.headers).get(":status", "0"))
            elif isinstance(ev, h2.events.DataReceived):
                bodies[sid] = bodies.get(sid, b"") + ev.data
                conn.acknowledge_received_data(ev.flow_controlled_length, sid)
            elif isinstance(ev, h2.events.StreamEnded) and sid in ids:
                out[sid] = (status.get(sid, 0), bodies.get(sid, b""))
            elif isinstance(ev, h2.events.StreamReset) and sid in ids:
                out[sid] = (0, b"")
        s.sendall(conn.data_to_send())
    return out


def send_q(port, peer_port):
    """Send-Q of the server side of the loopback connection port <- peer_port."""
    out = subprocess.run(["ss", "-tnH", "state", "established", "( sport = :%d and dport = :%d )" %
                          (port, peer_port)], capture_output=True, text=True).stdout.split()
    return int(out[1]) if len(out) > 1 and out[1].isdigit() else -1

