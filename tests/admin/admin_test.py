#!/usr/bin/env python3
"""The admin path under real web servers (issue 15): README's production recipe must never take the wiki down.

Runs as root (Apache and PHP-FPM start as root and serve as www-data, as on a Debian server). For each web SAPI:

  modphp  Apache 2.4 prefork + mod_php (Debian's libapache2-mod-php8.2; 8.4 on trixie)
  fpm     PHP-FPM (Debian's php8.2-fpm; 8.4 on trixie) behind Apache 2.4 with mod_proxy_fcgi

it serves a throwaway wiki (scripts/mkwiki.sh) with RcEmit loaded from a staged copy of the extension, library and
header (a world-readable temp directory: the checkout may be mode 0700), the php.ini lines of README's production
recipe (ffi.enable=preload, opcache.preload=<RcEmit>/preload.php, opcache.preload_user=www-data; no ffi.preload)
and walks through the states an admin's server goes through:

  start normally            -> an edit over HTTP reaches the UDP listener; action=rcemitstatus reports the
                               worker's load mode, library, version and counters
  library removed, reload   -> Apache graceful / FPM USR2: the server keeps serving, the edit succeeds, the rcemit
                               log channel has the "disabled" line naming the library, the status API says why
  header removed, reload    -> the same, naming the header
  library replaced by junk  -> the same ("could not load")
  cold start, library gone  -> the server starts and serves
  cold start, header gone   -> the same
  files back, reload        -> datagrams flow again
  unresolvable feed host    -> logged once per worker process, not per edit

Every server is started with its own config, pid file and loopback port, and stopped by its own pid only; the
system's Apache and PHP-FPM instances and /etc/mediawiki are never touched. Prints one line per check and exits
non-zero when one failed. About 1 to 2 minutes.

Usage: tests/admin/admin_test.py [--sapi modphp,fpm] [--keep]
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.dont_write_bytecode = True  # no __pycache__ in the checkout
sys.path.insert(0, os.path.join(REPO, "scripts"))
from mwdrive import ADMIN_PASS, Api, Listener  # noqa: E402

MODULES = "/usr/lib/apache2/modules"
# The PHP version of the machine (8.2 on Debian 12 with MediaWiki 1.39, 8.4 on Debian 13 with 1.43).
PHPV = subprocess.run(["php", "-r", 'echo PHP_MAJOR_VERSION, ".", PHP_MINOR_VERSION;'], capture_output=True,
                      text=True).stdout.strip() or "8.2"
FPM = f"/usr/sbin/php-fpm{PHPV}"
APACHE = "/usr/sbin/apache2"
PACKAGES = ["apache2", f"libapache2-mod-php{PHPV}", f"php{PHPV}-fpm", f"php{PHPV}-cli", f"php{PHPV}-sqlite3",
            f"php{PHPV}-xml", f"php{PHPV}-mbstring", f"php{PHPV}-intl", f"php{PHPV}-opcache", "mediawiki",
            "binutils", "make"]

FAILURES = []


def log(msg):
    print(msg, flush=True)


def check(ok, what, detail=""):
    log(f"  {'ok  ' if ok else 'FAIL'} {what}" + (f"\n       {detail}" if detail and not ok else ""))
    if not ok:
        FAILURES.append(what + (f": {detail}" if detail else ""))
    return ok


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ensure_packages():
    missing = [p for p in PACKAGES if subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", p], capture_output=True, text=True).stdout != "install ok installed"]
    if missing:
        log(f"installing {' '.join(missing)}")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True,
                       env=env, stdout=subprocess.DEVNULL)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as dead
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def wait_for(pred, timeout, step=0.1):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


class Stage:
    """The files an admin deploys, installed with `make install` (scripts/install.sh) into a throwaway PREFIX:
    world-readable, writable by root only, outside the checkout (which may be mode 0700)."""

    def __init__(self, work):
        self.work = work
        self.prefix = os.path.join(work, "prefix")
        self.phpconf = os.path.join(work, "phpconf")
        self.ext = os.path.join(self.prefix, "share", "mediawiki-extensions", "RcEmit")
        self.lib_dir = os.path.join(self.prefix, "lib", "rcemit", "current")
        self.lib = os.path.join(self.lib_dir, "librcemit.so")
        self.header = os.path.join(self.lib_dir, "rcemit.h")
        self.snippet = os.path.join(self.phpconf, "mods-available", "rcemit.ini")
        os.chmod(work, 0o755)
        self.install()

    def install(self, library=None):
        """make install PREFIX=<work>/prefix PHPCONFDIR=<work>/phpconf PHPENMOD= (never /etc/php)."""
        env = dict(os.environ, PREFIX=self.prefix, PHPCONFDIR=self.phpconf, PHPENMOD="", PHPDISMOD="",
                   PHP_VERSION=PHPV)
        if library:
            env["LIBRARY"] = library
        out = subprocess.run(["bash", os.path.join(REPO, "scripts", "install.sh"), "install"], env=env, check=True,
                             capture_output=True, text=True).stdout
        return os.path.realpath(self.lib), out

    def hide(self, path):
        os.rename(path, path + ".away")

    def restore(self, path):
        if os.path.exists(path + ".away"):
            os.replace(path + ".away", path)


class Wiki:
    def __init__(self, work, port, listen_port, bad_port):
        self.dir = os.path.join(work, "wiki")
        env = dict(os.environ, MKWIKI_PASS=ADMIN_PASS)
        subprocess.run(["bash", os.path.join(REPO, "scripts", "mkwiki.sh"), self.dir, str(port)], check=True,
                       env=env, stdout=subprocess.DEVNULL, timeout=600)
        self.url = f"http://127.0.0.1:{port}"
        self.log = os.path.join(self.dir, "rcemit.log")
        self.listen_port = listen_port
        self.bad_port = bad_port

    def configure(self, stage):
        with open(os.path.join(self.dir, "extra.php"), "a") as f:
            f.write(f"""
wfLoadExtension( 'RcEmit', '{stage.ext}/extension.json' );
$wgRcEmitLibraryPath = '{stage.lib}';
$wgRcEmitHeaderPath = '{stage.header}';
$wgRCFeeds['admin-json'] = [ 'class' => MediaWiki\\Extension\\RcEmit\\RcEmitFeed::class,
	'uri' => 'udp://127.0.0.1:{self.listen_port}', 'format' => 'json' ];
$wgRCFeeds['admin-badhost'] = [ 'class' => MediaWiki\\Extension\\RcEmit\\RcEmitFeed::class,
	'uri' => 'udp://rcemit-admin-test.invalid:{self.bad_port}', 'format' => 'irc' ];
$wgGroupPermissions['user']['noratelimit'] = true;
""")
        # The web user writes the database, uploads, caches and the rcemit log; nothing else.
        subprocess.run(["chown", "-R", "www-data:www-data", self.dir], check=True)
        os.chmod(self.dir, 0o755)

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""


def write_ini(work, stage, legacy=None):
    """The php.ini snippet `make install` wrote, in a conf.d of this test's servers only (PHP_INI_SCAN_DIR), as
    phpenmod links it into /etc/php/<ver>/{apache2,fpm}/conf.d. legacy: add the ffi.preload header of the old
    recipe, to show that this test catches what that recipe did."""
    d = os.path.join(work, "php-conf.d")
    os.makedirs(d, exist_ok=True)
    with open(stage.snippet) as f:
        snippet = f.read()
    check("opcache.preload=" + stage.ext + "/preload.php" in snippet and "ffi.preload" not in snippet,
          "make install: the php.ini snippet has README's recipe (opcache.preload = the installed preload.php)")
    with open(os.path.join(d, "60-rcemit.ini"), "w") as f:
        f.write(snippet + (f"ffi.preload={legacy}\n" if legacy else ""))
    os.chmod(d, 0o755)
    return d


class Server:
    """Apache (mod_php, or mod_proxy_fcgi in front of our own PHP-FPM) on 127.0.0.1:port."""

    def __init__(self, sapi, work, port, wiki, ini_dir):
        self.sapi, self.port, self.wiki, self.ini_dir = sapi, port, wiki, ini_dir
        self.dir = os.path.join(work, f"server-{sapi}")
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.pidfile = os.path.join(self.dir, "httpd.pid")
        self.error_log = os.path.join(self.dir, "error.log")
        self.fpm_pid = None
        self.fpm_log = os.path.join(self.dir, "fpm.log")
        self.fpm_proc = None
        self.env = dict(os.environ, PHP_INI_SCAN_DIR=":" + ini_dir)
        self.conf = os.path.join(self.dir, "httpd.conf")
        sock = os.path.join(self.dir, "fpm.sock")
        if sapi == "modphp":
            mpm = "LoadModule mpm_prefork_module {m}/mod_mpm_prefork.so\nLoadModule php_module {m}/libphp" + PHPV + ".so\n" \
                  "StartServers 2\nMinSpareServers 1\nMaxSpareServers 3\nMaxRequestWorkers 4\n" \
                  '<FilesMatch "\\.php$">\n\tSetHandler application/x-httpd-php\n</FilesMatch>\n' \
                  f"SetEnv MW_CONFIG_FILE {wiki.dir}/LocalSettings.php\n"
        else:
            mpm = "LoadModule mpm_event_module {m}/mod_mpm_event.so\nLoadModule proxy_module {m}/mod_proxy.so\n" \
                  "LoadModule proxy_fcgi_module {m}/mod_proxy_fcgi.so\n" \
                  '<FilesMatch "\\.php$">\n' \
                  f'\tSetHandler "proxy:unix:{sock}|fcgi://localhost"\n</FilesMatch>\n'
        with open(self.conf, "w") as f:
            f.write(f"""# rcemit admin test ({sapi}): loopback only, own pid file and logs.
ServerName 127.0.0.1
ServerRoot {self.dir}
Listen 127.0.0.1:{port}
PidFile {self.pidfile}
DefaultRuntimeDir {self.dir}
Mutex file:{self.dir} default
ErrorLog {self.error_log}
LogLevel warn
User www-data
Group www-data
LoadModule authz_core_module {{m}}/mod_authz_core.so
LoadModule mime_module {{m}}/mod_mime.so
LoadModule dir_module {{m}}/mod_dir.so
LoadModule env_module {{m}}/mod_env.so
TypesConfig /etc/mime.types
{mpm}DocumentRoot /usr/share/mediawiki
DirectoryIndex index.php
<Directory />
	AllowOverride None
	Require all denied
</Directory>
<Directory /usr/share/mediawiki>
	Require all granted
</Directory>
""".replace("{m}", MODULES))
        if sapi == "fpm":
            self.fpm_conf = os.path.join(self.dir, "php-fpm.conf")
            self.fpm_pidfile = os.path.join(self.dir, "fpm.pid")
            with open(self.fpm_conf, "w") as f:
                f.write(f"""; rcemit admin test: our own PHP-FPM master (own pid file and socket)
[global]
pid = {self.fpm_pidfile}
error_log = {self.fpm_log}
daemonize = no

[admin]
user = www-data
group = www-data
listen = {sock}
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = static
pm.max_children = 2
catch_workers_output = yes
clear_env = yes
env[MW_CONFIG_FILE] = {wiki.dir}/LocalSettings.php
""")

    # --- Apache ---
    def apache_pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def apache(self, action):
        return subprocess.run([APACHE, "-f", self.conf, "-k", action], env=self.env, capture_output=True,
                              text=True, timeout=60).returncode

    # --- PHP-FPM ---
    def fpm_start(self):
        self.fpm_proc = subprocess.Popen([FPM, "-y", self.fpm_conf, "-F"], env=self.env,
                                         stdout=open(self.fpm_log + ".out", "a"), stderr=subprocess.STDOUT)
        self.fpm_pid = self.fpm_proc.pid
        wait_for(lambda: os.path.exists(os.path.join(self.dir, "fpm.sock")) or self.fpm_proc.poll() is not None, 15)

    def fpm_alive(self):
        return self.fpm_proc is not None and self.fpm_proc.poll() is None

    def fpm_reload(self):
        os.kill(self.fpm_pid, signal.SIGUSR2)

    # --- both ---
    def start(self):
        if self.sapi == "fpm":
            self.fpm_start()
        rc = self.apache("start")
        wait_for(lambda: self.apache_pid() is not None and self.answers(), 20)
        return rc

    def reload(self):
        """Apache graceful restart (logrotate's reload) or PHP-FPM's reload (USR2)."""
        if self.sapi == "modphp":
            pid = self.apache_pid()
            self.apache("graceful")
            # A graceful restart keeps the master; wait until it has re-read the configuration.
            time.sleep(1.5)
            wait_for(lambda: not alive(pid) or self.answers(), 20)
        else:
            self.fpm_reload()
            time.sleep(1.5)
            wait_for(lambda: not self.fpm_alive() or os.path.exists(os.path.join(self.dir, "fpm.sock")), 20)
            wait_for(self.answers, 10)

    def up(self):
        pid = self.apache_pid()
        ok = pid is not None and alive(pid)
        if self.sapi == "fpm":
            ok = ok and self.fpm_alive()
        return ok

    def answers(self):
        try:
            with urllib.request.urlopen(f"{self.wiki.url}/api.php?action=query&meta=siteinfo&format=json",
                                        timeout=10) as r:
                return "sitename" in json.loads(r.read()).get("query", {}).get("general", {})
        except (OSError, ValueError):
            return False

    def stop(self):
        pid = self.apache_pid()
        if pid and alive(pid):
            os.kill(pid, signal.SIGTERM)
            wait_for(lambda: not alive(pid), 15)
        if os.path.exists(self.pidfile) and not (pid and alive(pid)):
            os.unlink(self.pidfile)
        if self.fpm_proc and self.fpm_proc.poll() is None:
            self.fpm_proc.send_signal(signal.SIGQUIT)
            try:
                self.fpm_proc.wait(15)
            except subprocess.TimeoutExpired:
                self.fpm_proc.kill()
                self.fpm_proc.wait(5)
        self.fpm_proc = None

    def error_logs(self):
        return [p for p in (self.error_log, self.fpm_log, self.fpm_log + ".out") if os.path.exists(p)]

    def error_mark(self):
        return {p: os.path.getsize(p) for p in self.error_logs()}

    def error_since(self, mark):
        """What the server's error logs (Apache's, PHP-FPM's) got since error_mark()."""
        out = ""
        for p in self.error_logs():
            with open(p, "rb") as f:
                f.seek(mark.get(p, 0))
                out += f.read().decode(errors="replace")
        return out

    def tail(self):
        out = []
        for p in (self.error_log, self.fpm_log, self.fpm_log + ".out"):
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    out.append(f"--- {p}\n" + f.read()[-1500:])
        return "\n".join(out)


class Scenario:
    def __init__(self, server, wiki, listener):
        self.server, self.wiki, self.listener = server, wiki, listener
        self.n = 0

    def edit(self):
        """One edit over HTTP as Admin (a fresh session: the worker may be new)."""
        self.n += 1
        api = Api(self.wiki.url)
        api.login("Admin", ADMIN_PASS)
        title = f"Admin test {self.server.sapi} {self.n} {time.time():.0f}"
        res = api.call(action="edit", title=title, text=f"Edit {self.n}", summary="admin test",
                       token=api.token())
        return title, res.get("edit", {}).get("result") == "Success", api

    def status(self, api):
        return api.call(action="rcemitstatus").get("rcemitstatus", {})

    def expect_serving(self, label, disabled_text=None, deliver=True):
        """The server is up and answers, an edit succeeds, and either the datagram arrives or the rcemit log
        has one new "disabled" line containing disabled_text."""
        log_before = len(self.wiki.log_text())
        self.listener.take("json")
        if not check(self.server.up(), f"{label}: server processes alive", self.server.tail()):
            return
        if not check(self.server.answers(), f"{label}: api.php answers", self.server.tail()):
            return
        try:
            title, ok, api = self.edit()
        except (RuntimeError, OSError, ValueError) as e:
            check(False, f"{label}: edit over HTTP", str(e) + "\n" + self.server.tail())
            return
        check(ok, f"{label}: edit over HTTP saved")
        status = self.status(api)
        if deliver:
            got = []
            wait_for(lambda: got.extend(self.listener.take("json")) or any(
                json.loads(d).get("title") == title for d in got), 5)
            check(any(json.loads(d).get("title") == title for d in got),
                  f"{label}: the edit's datagram reached the UDP listener", f"got {got[:3]}")
            check(status.get("enabled") is True and status.get("mode") == "cdef"
                  and status.get("library") == self.server.stage_lib and bool(status.get("version"))
                  and isinstance(status.get("stats"), dict),
                  f"{label}: action=rcemitstatus reports mode cdef, the library, its version and counters",
                  json.dumps(status)[:600])
            log(f"       status: sapi {status.get('sapi')}, pid {status.get('pid')}, mode {status.get('mode')}, "
                f"library {status.get('library')} {status.get('version')}, enqueued "
                f"{status.get('stats', {}).get('enqueued')}, sent {status.get('stats', {}).get('sent')}")
        else:
            new = self.wiki.log_text()[log_before:]
            lines = [line for line in new.splitlines() if "RcEmit is disabled in this PHP process" in line]
            check(any(disabled_text in line for line in lines),
                  f"{label}: rcemit log has the disabled line ({disabled_text!r})", new[-800:] or "(log empty)")
            if lines:
                log("       log: " + re.sub(r"^.*?RcEmit is disabled", "RcEmit is disabled", lines[0])[:230] + " ...")
            check(status.get("enabled") is False and disabled_text in (status.get("disabled_reason") or ""),
                  f"{label}: action=rcemitstatus says disabled and why", json.dumps(status)[:600])


def run_sapi(sapi, work, stage, wiki, ini_dir, listener):
    log(f"== {sapi}: {f'Apache prefork + mod_php {PHPV}' if sapi == 'modphp' else f'PHP-FPM {PHPV} behind Apache mod_proxy_fcgi'}"
        f" on {wiki.url}")
    server = Server(sapi, work, int(wiki.url.rsplit(":", 1)[1]), wiki, ini_dir)
    server.stage_lib = stage.lib
    sc = Scenario(server, wiki, listener)
    reload_name = "graceful reload" if sapi == "modphp" else "FPM reload (USR2)"
    started = time.monotonic()
    try:
        check(server.start() == 0 and server.up(), "start: server up", server.tail())
        sc.expect_serving("start")

        stage.hide(stage.lib)
        server.reload()
        sc.expect_serving(f"library missing, {reload_name}", "does not exist", deliver=False)
        stage.restore(stage.lib)

        stage.hide(stage.header)
        server.reload()
        sc.expect_serving(f"header missing, {reload_name}", "is missing or unreadable", deliver=False)
        stage.restore(stage.header)

        os.chmod(os.path.realpath(stage.lib), 0o600)
        server.reload()
        sc.expect_serving(f"library unreadable by www-data, {reload_name}", "could not load", deliver=False)
        os.chmod(os.path.realpath(stage.lib), 0o644)

        stage.hide(stage.lib)
        with open(stage.lib, "w") as f:
            f.write("not a shared object\n")
        os.chmod(stage.lib, 0o644)
        server.reload()
        sc.expect_serving(f"library replaced by junk, {reload_name}", "could not load", deliver=False)
        os.unlink(stage.lib)
        stage.restore(stage.lib)

        # preload.php must never stop PHP: the wrapper file it compiles is missing.
        wrapper = os.path.join(stage.ext, "src", "RcEmitLibrary.php")
        stage.hide(wrapper)
        mark = server.error_mark()
        server.reload()
        sc.expect_serving(f"wrapper file missing, {reload_name}", "RcEmitLibrary.php is missing", deliver=False)
        check("RcEmit preload:" in server.error_since(mark),
              "wrapper file missing: preload.php said so in PHP's startup log", server.error_since(mark)[-500:])
        stage.restore(wrapper)

        # The status API is for admins only.
        anon = Api(wiki.url)
        try:
            anon.call(action="rcemitstatus")
            denied = "no error"
        except RuntimeError as e:
            denied = str(e)
        check("permissiondenied" in denied, "action=rcemitstatus refuses a user without the rcemit-status right",
              denied[:300])

        server.stop()
        stage.hide(stage.lib)
        check(server.start() == 0, "cold start with the library missing: start command succeeds")
        sc.expect_serving("cold start, library missing", "does not exist", deliver=False)
        server.stop()
        stage.restore(stage.lib)

        stage.hide(stage.header)
        check(server.start() == 0, "cold start with the header missing: start command succeeds")
        sc.expect_serving("cold start, header missing", "is missing or unreadable", deliver=False)
        stage.restore(stage.header)
        server.reload()
        sc.expect_serving(f"files restored, {reload_name}")

        # A root CLI run created rcemit.log before the web had to write to it: the web's lines must not be lost.
        os.chown(wiki.log, 0, 0)
        os.chmod(wiki.log, 0o644)
        stage.hide(stage.lib)
        server.reload()
        mark = server.error_mark()
        sc.edit()
        wait_for(lambda: "is not writable by www-data" in server.error_since(mark), 5)
        new = server.error_since(mark)
        check("RcEmit is disabled in this PHP process" in new and "is not writable by www-data" in new,
              "rcemit.log owned by root: the disabled line goes to PHP's error log instead",
              new[-600:] or "(nothing new in the error logs)")
        if "is not writable by www-data" in new:
            log("       error log: ..." + new[new.index("RcEmit is disabled"):][:60] + " ... "
                + new[new.index("[RcEmit: the rcemit log"):].splitlines()[0][:150])
        stage.restore(stage.lib)
        subprocess.run(["chown", "www-data:www-data", wiki.log], check=True)

        # An upgrade: a rebuilt library installed with `make install`, then the reload an admin does.
        old_real = os.path.realpath(stage.lib)
        rebuilt = os.path.join(work, f"rebuilt-{sapi}.so")
        marker = os.path.join(work, f"rebuilt-{sapi}.txt")
        with open(marker, "w") as f:
            f.write(f"rebuilt for the {sapi} upgrade test at {time.time()}\n")
        subprocess.run(["objcopy", "--add-section", f".rcemit_test={marker}", os.path.join(
            REPO, "target", "release", "librcemit.so"), rebuilt], check=True)
        new_real, _ = stage.install(rebuilt)
        check(new_real != old_real and os.path.realpath(stage.lib) == new_real
              and os.path.dirname(os.path.dirname(new_real)) == os.path.dirname(os.path.dirname(old_real)),
              "upgrade: make install put the rebuilt library in a new versioned directory and switched 'current'",
              f"{old_real} -> {new_real}")
        check(os.path.exists(old_real), "upgrade: the old build stays (old workers may still map it; rollback)")
        server.reload()
        sc.expect_serving(f"upgrade, {reload_name}")
        _, _, api = sc.edit()
        pid = sc.status(api).get("pid")
        try:
            with open(f"/proc/{pid}/maps") as f:
                maps = f.read()
        except (OSError, TypeError):
            maps = ""
        check(new_real in maps and old_real not in maps,
              f"upgrade: the worker answering after the {reload_name} maps the new build, not the old one",
              f"pid {pid}: " + " ".join(sorted({line.split()[-1] for line in maps.splitlines() if "rcemit" in line})))

        # An unresolvable destination: one line per worker process, not one per edit (fresh workers first).
        server.reload()
        before = wiki.log_text().count("does not resolve")
        for _ in range(6):
            sc.edit()
            time.sleep(0.2)
        lines = [line for line in wiki.log_text().splitlines() if "does not resolve" in line]
        new = len(lines) - before
        workers = 4 if sapi == "modphp" else 2
        check(1 <= new <= workers, f"unresolvable feed host: logged once per worker ({new} lines after 7 edits, "
              f"at most {workers} workers)", "\n".join(lines[-5:]))
        if lines:
            log("       log: " + re.sub(r"^.*?RcEmit cannot", "RcEmit cannot", lines[-1])[:260] + " ...")
        check("$wgRCFeeds['admin-badhost']" in (lines[-1] if lines else ""),
              "unresolvable feed host: the line names the $wgRCFeeds key")
    finally:
        stage.restore(stage.lib)
        stage.restore(stage.header)
        server.stop()
    log(f"   {sapi}: {time.monotonic() - started:.1f} s")


def cli_checks(stage, wiki):
    """rcemitStatus.php as an admin runs it (as www-data, from the installed extension)."""
    def status(*args):
        res = subprocess.run(["setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups", "php",
                              os.path.join(stage.ext, "maintenance", "rcemitStatus.php"), *args],
                             env=dict(os.environ, MW_CONFIG_FILE=os.path.join(wiki.dir, "LocalSettings.php")),
                             capture_output=True, text=True, timeout=120)
        return res.returncode, res.stdout + res.stderr
    rc, out = status()
    check(rc == 0 and "loaded by cdef" in out and "enqueued" in out,
          f"rcemitStatus.php: exit {rc}, library, version, load mode and counters", out[-500:])
    rc, out = status("--rcid=1")
    check(rc != 0 and "--rcid needs --feed" in out, f"rcemitStatus.php --rcid without --feed: exit {rc}", out[-300:])
    rc, out = status("--feed=admin-json", "--rcid=999999")
    check(rc != 0 and "999999" in out, f"rcemitStatus.php --rcid=999999 (no such change): exit {rc}", out[-300:])
    legacy = os.path.join(stage.work, "other-preload.h")
    with open(legacy, "w") as f:
        f.write('#define FFI_SCOPE "rcemit"\n#define FFI_LIB "/opt/elsewhere/librcemit.so"\n')
    rc, out = status(f"--preload-header={legacy}")
    check(rc != 0 and "different libraries" in out and "/opt/elsewhere/librcemit.so" in out,
          f"rcemitStatus.php --preload-header naming another library: exit {rc}, mismatch reported", out[-400:])
    rc, out = status("--feed=admin-json", "--rcid=1")
    check(rc == 0 and "queued" in out, f"rcemitStatus.php --feed=admin-json --rcid=1: exit {rc}", out[-300:])


def destdir_check():
    """make install DESTDIR=... PREFIX=/usr: the Debian paths, nothing outside DESTDIR; uninstall removes it."""
    d = tempfile.mkdtemp(prefix="rcemit-destdir.")
    try:
        env = dict(os.environ, DESTDIR=d, PREFIX="/usr", PHP_VERSION=PHPV)
        out = subprocess.run(["make", "-s", "-C", REPO, "install"], env=env, check=True, capture_output=True,
                             text=True).stdout
        files = sorted(os.path.relpath(os.path.join(r, f), d) for r, _, fs in os.walk(d) for f in fs)
        current = os.readlink(os.path.join(d, "usr/lib/rcemit/current"))
        want = {f"etc/php/{PHPV}/mods-available/rcemit.ini", f"usr/lib/rcemit/{current}/librcemit.so",
                f"usr/lib/rcemit/{current}/rcemit.h", "usr/share/mediawiki-extensions/RcEmit/extension.json",
                "usr/share/mediawiki-extensions/RcEmit/preload.php",
                "usr/share/mediawiki-extensions/RcEmit/src/RcEmitLibrary.php"}
        check(want <= set(files) and not any("/tests/" in f for f in files),
              f"make install DESTDIR=... PREFIX=/usr: {len(files)} files in the Debian places "
              f"(library in usr/lib/rcemit/{current}/, current -> {current})", "\n".join(files))
        check("$wgRcEmitLibraryPath = '/usr/lib/rcemit/current/librcemit.so'" in out,
              "make install prints the LocalSettings.php lines", out)
        subprocess.run(["make", "-s", "-C", REPO, "uninstall"], env=env, check=True, capture_output=True)
        left = [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs]
        check(not left, "make uninstall DESTDIR=...: nothing left", " ".join(left))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def host_wiki_check():
    """make demo on a machine whose Debian wiki is configured: /etc/mediawiki/LocalSettings.php exists (Debian
    links $IP/LocalSettings.php to it). Simulated in a private mount namespace (unshare -m; a bind mount over
    /etc/mediawiki that no other process sees), so the host is never touched. The throwaway wiki must be created
    anyway, and the host's settings never read."""
    if not shutil.which("unshare"):
        check(False, "host wiki configured: unshare (util-linux) is needed")
        return
    d = tempfile.mkdtemp(prefix="rcemit-hostwiki.")
    os.chmod(d, 0o755)
    read_marker = os.path.join(d, "host-settings-read")
    with open(os.path.join(d, "LocalSettings.php"), "w") as f:
        f.write(f"<?php\n# Stands in for a configured Debian wiki.\n$wgSitename = 'HostWiki';\n"
                f"$wgDBtype = 'sqlite';\n$wgDBname = 'hostwiki';\nfile_put_contents('{read_marker}', 'read');\n")
    try:
        started = time.monotonic()
        res = subprocess.run(
            ["unshare", "-m", "--propagation", "private", "bash", "-c",
             'mount --bind "$1" /etc/mediawiki && test -f /usr/share/mediawiki/LocalSettings.php && '
             'bash "$2/scripts/demo.sh"', "-", d, REPO],
            env=dict(os.environ, PORT=str(free_port())), capture_output=True, text=True, timeout=600)
        out = res.stdout + res.stderr
        datagrams = len(re.findall(r"bytes from 127\.0\.0\.1", out))
        check(res.returncode == 0 and datagrams >= 4,
              f"make demo with the host's Debian wiki configured: exit {res.returncode}, {datagrams} datagrams "
              f"shown ({time.monotonic() - started:.0f} s)", out[-1500:])
        check(not os.path.exists(read_marker), "make demo never read the host's LocalSettings.php")
        check(not os.path.exists("/etc/mediawiki/LocalSettings.php"), "the host's /etc/mediawiki is untouched")
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sapi", default="modphp,fpm")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    ap.add_argument("--no-host-wiki", action="store_true", help="skip make demo with a configured host wiki")
    ap.add_argument("--legacy-recipe", action="store_true",
                    help="use the old recipe (ffi.preload header): expected to FAIL, proving the checks bite")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("admin_test: run as root (Apache and PHP-FPM start as root and serve as www-data)")
    if not os.path.exists(os.path.join(REPO, "target", "release", "librcemit.so")):
        sys.exit("admin_test: build the library first (cargo build --release)")
    ensure_packages()
    started = time.monotonic()
    log("== make install / uninstall into a DESTDIR")
    destdir_check()
    if "--no-host-wiki" not in sys.argv:
        log("== make demo on a machine whose Debian wiki is configured (private mount namespace)")
        host_wiki_check()
    work = tempfile.mkdtemp(prefix="rcemit-admin.")
    os.chmod(work, 0o755)
    try:
        stage = Stage(work)
        listener = Listener(["json"])
        bad_port = free_port()
        wiki = Wiki(work, free_port(), listener.ports["json"], bad_port)
        wiki.configure(stage)
        legacy = None
        if args.legacy_recipe:
            legacy = os.path.join(work, "rcemit-preload.h")
            subprocess.run(["php", "-r", "require $argv[1]; require $argv[2]; file_put_contents($argv[3], "
                            "MediaWiki\\Extension\\RcEmit\\RcEmitLibrary::preloadHeader("
                            "file_get_contents($argv[4]), $argv[5]));",
                            f"{stage.ext}/src/RcEmitException.php", f"{stage.ext}/src/RcEmitLibrary.php", legacy,
                            stage.header, stage.lib], check=True)
            os.chmod(legacy, 0o644)
        ini_dir = write_ini(work, stage, legacy)
        log("== rcemitStatus.php (CLI, as www-data)")
        cli_checks(stage, wiki)
        for sapi in args.sapi.split(","):
            run_sapi(sapi, work, stage, wiki, ini_dir, listener)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    log(f"admin test: {time.monotonic() - started:.0f} s, "
        + (f"{len(FAILURES)} FAILED:\n  " + "\n  ".join(f[:300] for f in FAILURES) if FAILURES else "all passed"))
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
