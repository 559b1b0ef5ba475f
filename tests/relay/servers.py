"""Private XMPP servers for the relay tests: Debian's Prosody and ejabberd, on loopback ports, with every file in a
temporary directory the server's own user can read (the checkout may be mode 0700; ejabberdctl runs the node as
the `ejabberd` user). Each server is stopped by its own PID only.

Both serve the host `localhost` with a MUC service `muc.localhost` (archived with MAM), plaintext c2s unless a
certificate is given (then STARTTLS with that certificate). Prosody can also serve a PubSub service
`pubsub.localhost`, where only its admins may create nodes."""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time

HOST = "localhost"
MUC = "muc.localhost"
PUBSUB = "pubsub.localhost"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, limit=30.0, what="server"):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {limit} s")


def stop(proc, sig=signal.SIGTERM, limit=15.0):
    """Stops one process we started (by its PID), then waits for it."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(limit)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


class Prosody:
    name = "prosody"

    def __init__(self, tmp, cert=None, admins=(), pubsub=False):
        """cert: (certificate, key) paths for STARTTLS; None: plaintext only. admins: bare JIDs (Prosody lets
        only them create PubSub nodes); pubsub: also serve PUBSUB."""
        self.dir = os.path.join(tmp, "prosody")
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        self.port = free_port()
        self.proc = None
        tls = ""
        disabled = '"s2s"; "tls";'
        if cert:
            crt, key = (shutil.copy(p, self.dir) for p in cert)
            tls = f'ssl = {{ certificate = "{crt}"; key = "{key}"; }}\nc2s_require_encryption = true\n'
            disabled = '"s2s";'
        self.config = os.path.join(self.dir, "prosody.cfg.lua")
        with open(self.config, "w") as f:
            f.write(f"""-- Written by tests/relay/servers.py for one test run.
run_as_root = true
daemonize = false
pidfile = "{self.dir}/prosody.pid"
data_path = "{self.dir}/data"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.port} }}
c2s_direct_tls_ports = {{}}
s2s_ports = {{}}
http_ports = {{}}
https_ports = {{}}
admins = {{ {" ".join(f'"{a}";' for a in admins)} }}
authentication = "internal_plain"
allow_unencrypted_plain_auth = true
c2s_require_encryption = false
log = {{ info = "{self.dir}/prosody.log"; error = "{self.dir}/prosody.err"; }}
modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "posix"; "smacks"; {'"tls";' if cert else ''} }}
modules_disabled = {{ {disabled} }}
{tls}
VirtualHost "{HOST}"
Component "{MUC}" "muc"
  modules_enabled = {{ "muc_mam" }}
  restrict_room_creation = false
  muc_log_by_default = false
{f'Component "{PUBSUB}" "pubsub"' if pubsub else ""}
""")

    def start(self):
        self.proc = subprocess.Popen(["prosody", "--config", self.config], stdout=open(os.path.join(self.dir, "out.log"), "a"),
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port, self.proc, what="prosody")

    def register(self, user, password):
        subprocess.run(["prosodyctl", "--config", self.config, "register", user, HOST, password], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30)

    def kill9(self):
        self.proc.kill()
        self.proc.wait(10)

    def stop(self):
        stop(self.proc)

    def log(self):
        out = ""
        for name in ("prosody.err", "out.log"):
            p = os.path.join(self.dir, name)
            if os.path.exists(p):
                out += open(p, errors="replace").read()[-3000:]
        return out


class Ejabberd:
    name = "ejabberd"
    _nodes = 0

    def __init__(self, tmp):
        # Its own directory, owned by the ejabberd user: ejabberdctl runs the node as that user.
        self.dir = os.path.join(tmp, "ejabberd")
        for sub in ("", "spool", "logs"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        os.chmod(tmp, 0o755)
        self.port = free_port()
        self.dist_port = free_port()
        Ejabberd._nodes += 1
        self.node = f"rcemittest{os.getpid()}n{Ejabberd._nodes}@localhost"
        self.proc = None
        self.config = os.path.join(self.dir, "ejabberd.yml")
        with open(self.config, "w") as f:
            f.write(f"""# Written by tests/relay/servers.py for one test run.
hosts: ["{HOST}"]
loglevel: warning
certfiles: []
listen:
  - port: {self.port}
    ip: "127.0.0.1"
    module: ejabberd_c2s
    starttls: false
auth_method: internal
auth_password_format: plain
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  muc_create:
    allow: local
shaper_rules:
  c2s_shaper: none
s2s_access: none
modules:
  mod_disco: {{}}
  mod_ping: {{}}
  mod_roster: {{}}
  mod_stream_mgmt: {{}}
  mod_mam:
    assume_mam_usage: true
  mod_muc:
    host: "{MUC}"
    access: all
    access_create: muc_create
    access_persistent: muc_create
    history_size: 50
""")
        # Debian's /etc/ejabberd/ejabberdctl.cfg would set the config path back to /etc: use our own.
        self.ctl_config = os.path.join(self.dir, "ejabberdctl.cfg")
        with open(self.ctl_config, "w") as f:
            f.write(f'ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"\nEJABBERD_PID_PATH={self.dir}/ejabberd.pid\n'
                    f'EJABBERD_CONFIG_PATH={self.config}\n')
        shutil.copy("/etc/ejabberd/inetrc", self.dir)
        user = pwd.getpwnam("ejabberd")
        for root, dirs, files in os.walk(self.dir):
            for p in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.chown(p, user.pw_uid, user.pw_gid)

    def _ctl(self, *args):
        env = dict(os.environ, ERL_DIST_PORT=str(self.dist_port), HOME=self.dir)
        return ["ejabberdctl", "--config-dir", self.dir, "--ctl-config", self.ctl_config, "--config", self.config, "--logs", os.path.join(self.dir, "logs"), "--spool",
                os.path.join(self.dir, "spool"), "--node", self.node, *args], env

    def start(self):
        cmd, env = self._ctl("foreground")
        self.proc = subprocess.Popen(cmd, env=env, cwd=self.dir, stdout=open(os.path.join(self.dir, "out.log"), "a"),
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        wait_port(self.port, self.proc, limit=60, what="ejabberd")
        cmd, env = self._ctl("started")
        subprocess.run(cmd, env=env, cwd=self.dir, timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def register(self, user, password):
        cmd, env = self._ctl("register", user, HOST, password)
        subprocess.run(cmd, env=env, cwd=self.dir, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=60)

    def kill9(self):
        # su starts the Erlang node in a session of its own: kill it by the PID it wrote, then reap ejabberdctl.
        with open(os.path.join(self.dir, "ejabberd.pid")) as f:
            os.kill(int(f.read().strip()), signal.SIGKILL)
        self.proc.wait(20)

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        cmd, env = self._ctl("stop")
        subprocess.run(cmd, env=env, cwd=self.dir, timeout=60, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.kill9()

    def log(self):
        out = ""
        for p in (os.path.join(self.dir, "out.log"), os.path.join(self.dir, "logs", "error.log")):
            if os.path.exists(p):
                out += open(p, errors="replace").read()[-3000:]
        return out
