#!/usr/bin/env python3
"""Uploading 1 GiB of task files: tnet next to scp and rsync over OpenSSH.

Run through scripts/bench-upload.sh, which builds the release binaries first.
Every round, in the same run and on the same files:

- scp -r into an empty folder, rsync -a into an empty folder;
- rsync again with nothing changed (its own no-change run);
- `tnet run` on a host with an empty blob cache and a client with an empty
  hash cache (so it hashes every byte), on the secure default (QUIC with
  mutual TLS, a fleet made for this run) and on `--insecure` (plain TCP),
  each on its own fresh host, the order alternating between rounds;
- `tnet edit --file` with nothing changed (the re-submit);
- one small file changed: rsync and `tnet edit`, with the bytes each sent.

Then, when `examples/transport_floor` is built next to the binaries, the
floor of each link: the same bytes through bare Zenoh, nothing else.

Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import getpass
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 1 << 20


def free_port():
    """A port free for TCP and for UDP (QUIC, the secure default), below the
    kernel's ephemeral range, which QUIC clients' UDP sockets draw from."""
    while True:
        port = random.randrange(20000, 32000)
        try:
            with socket.socket() as s, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                s.bind(("0.0.0.0", port))
                u.bind(("0.0.0.0", port))
                return port
        except OSError:
            continue


def timed(cmd, env=None, capture=False):
    """Runs cmd, failing loudly; returns (seconds, stdout+stderr).

    The disk is flushed first, outside the clock: none of the tools waits
    for the disk to hold what it wrote (scp and rsync leave it to the
    kernel; tnet-host syncs once uploads pause), so each starts with no
    earlier command's writing still to do."""
    os.sync()
    start = time.perf_counter()
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    took = time.perf_counter() - start
    if p.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout.decode(errors='replace')}")
    return took, p.stdout.decode(errors="replace")


class Sshd:
    """Debian's OpenSSH server on a loopback port, with a throwaway key."""

    def __init__(self, work):
        self.work = work
        self.port = free_port()
        key = os.path.join(work, "host_key")
        self.client_key = os.path.join(work, "client_key")
        for k in (key, self.client_key):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", k], check=True)
        shutil.copy(self.client_key + ".pub", os.path.join(work, "authorized_keys"))
        os.makedirs("/run/sshd", exist_ok=True)
        conf = os.path.join(work, "sshd_config")
        with open(conf, "w") as f:
            f.write(
                f"Port {self.port}\nListenAddress 127.0.0.1\nHostKey {key}\n"
                f"AuthorizedKeysFile {work}/authorized_keys\nPidFile {work}/sshd.pid\n"
                "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
                "PermitRootLogin prohibit-password\n"
                # scp speaks SFTP since OpenSSH 9.0.
                "Subsystem sftp internal-sftp\n"
            )
        subprocess.run(["/usr/sbin/sshd", "-t", "-f", conf], check=True)
        self.proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", conf], stderr=subprocess.DEVNULL)
        self.opts = [
            "-i", self.client_key, "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
        ]
        self.user = f"{getpass.getuser()}@127.0.0.1"
        for _ in range(100):
            if subprocess.run(["ssh", "-p", str(self.port), *self.opts, self.user, "true"],
                              stderr=subprocess.DEVNULL).returncode == 0:
                return
            time.sleep(0.1)
        sys.exit("sshd did not come up")

    def ssh_cmd(self):
        return " ".join(["ssh", "-p", str(self.port), *self.opts])

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Host:
    """A release tnet-host with a fresh home, scouting off, on a loopback port:
    the secure default (QUIC, mutual TLS; `tcp/` is taken as `quic/`) with the
    fleet in `env`, or `--insecure`."""

    def __init__(self, bin_dir, home, env, insecure):
        self.port = free_port()
        self.endpoint = f"tcp/127.0.0.1:{self.port}"
        self.log = open(os.path.join(home, "host.log"), "a")
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "tnet-host"), "--name", "bench", "--home", home,
             "--no-multicast-scouting", "-l", self.endpoint] + (["--insecure"] if insecure else []),
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def make_files(src, total, count):
    """`count` files of random bytes adding up to `total`, plus a script and the task file."""
    os.makedirs(os.path.join(src, "data"))
    each = total // count
    with open("/dev/urandom", "rb") as rnd:
        for i in range(count):
            with open(os.path.join(src, "data", f"part-{i:03}.bin"), "wb") as f:
                left = each
                while left:
                    chunk = rnd.read(min(left, 8 * MIB))
                    f.write(chunk)
                    left -= len(chunk)
    with open(os.path.join(src, "run.sh"), "w") as f:
        f.write("#!/bin/sh\nexec sleep 100000\n")
    os.chmod(os.path.join(src, "run.sh"), 0o755)
    with open(os.path.join(src, "big.toml"), "w") as f:
        f.write('task_name = "big"\ntask_type = "daemon"\nnecessary_files = ["run.sh", "data"]\n'
                'commands = ["./run.sh"]\nrun_in_docker = false\n')


def median(xs):
    return statistics.median(xs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--files", type=int, default=32)
    args = ap.parse_args()
    bin_dir = os.path.abspath(args.bin_dir)
    tnet = os.path.join(bin_dir, "tnet")

    work = tempfile.mkdtemp(prefix="tnet-bench-upload-")
    sshd = Sshd(work)
    src = os.path.join(work, "src")
    make_files(src, args.mib * MIB, args.files)
    task = os.path.join(src, "big.toml")
    modes = ("tnet", "tnet_insecure")
    rows = {k: [] for k in ("scp", "rsync", "rsync_same", "rsync_one")}
    for mode in modes:
        rows.update({mode: [], mode + "_same": [], mode + "_one": []})
    sent = {k: [] for k in ("rsync_one", "tnet_one", "tnet_insecure_one")}
    fleet = os.path.join(work, "fleet")
    try:
        for r in range(args.rounds):
            dst = os.path.join(work, "dst")
            shutil.rmtree(dst, ignore_errors=True)
            os.makedirs(dst)
            remote = sshd.user + ":"
            rows["scp"].append(timed(["scp", "-q", "-r", "-P", str(sshd.port), *sshd.opts,
                                      src, remote + os.path.join(dst, "scp")])[0])
            rsync = ["rsync", "-a", "--stats", "-e", sshd.ssh_cmd(), src + "/",
                     remote + os.path.join(dst, "rsync") + "/"]
            rows["rsync"].append(timed(rsync)[0])
            rows["rsync_same"].append(timed(rsync)[0])

            # One small file changed, for rsync (once per round).
            with open(os.path.join(src, "run.sh"), "a") as f:
                f.write(f"# round {r}\n")
            took, out = timed(rsync)
            rows["rsync_one"].append(took)
            for line in out.splitlines():
                if line.startswith("Total bytes sent:"):
                    sent["rsync_one"].append(int(line.split(":")[1].replace(",", "").strip()))

            for mode in (modes if r % 2 == 0 else modes[::-1]):
                insecure = mode == "tnet_insecure"
                home = os.path.join(work, f"home-{r}-{mode}")
                os.makedirs(home)
                env = dict(os.environ, XDG_CACHE_HOME=os.path.join(work, f"cache-{r}-{mode}"),
                           TNET_FLEET=fleet)
                for k in ("TNET_CONNECT", "TNET_INSECURE"):
                    env.pop(k, None)
                env.pop("TNET_IDENTITY", None)
                if insecure:
                    env["TNET_INSECURE"] = "1"
                else:
                    env["TNET_IDENTITY"] = os.path.join(fleet, "clients", "admin")
                host = Host(bin_dir, home, env, insecure)
                env["TNET_CONNECT"] = host.endpoint
                try:
                    deadline = time.time() + 30
                    while subprocess.run([tnet, "hosts"], env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL).returncode != 0:
                        if time.time() > deadline:
                            sys.exit(f"the host ({mode}) did not answer")
                        if host.proc.poll() is not None:
                            # A secure host's first start with a new fleet can exit,
                            # its QUIC port "already in use": started again, it stays.
                            print(f"tnet-host ({mode}) exited before answering; starting it again",
                                  file=sys.stderr)
                            host.stop()
                            env.pop("TNET_CONNECT")
                            host = Host(bin_dir, home, env, insecure)
                            env["TNET_CONNECT"] = host.endpoint
                    rows[mode].append(timed([tnet, "run", task], env=env)[0])
                    # Its own small change first, then the re-submit with nothing changed.
                    rows[mode + "_same"].append(
                        timed([tnet, "edit", "big", "--file", task, "--yes"], env=env)[0])
                    with open(os.path.join(src, "run.sh"), "a") as f:
                        f.write(f"# round {r} {mode}\n")
                    before = json.loads(timed([tnet, "hosts", "--json"], env=env)[1])[0]["bytes_received"]
                    rows[mode + "_one"].append(
                        timed([tnet, "edit", "big", "--file", task, "--yes"], env=env)[0])
                    after = json.loads(timed([tnet, "hosts", "--json"], env=env)[1])[0]["bytes_received"]
                    sent[mode + "_one"].append(after - before)
                finally:
                    host.stop()
                    shutil.rmtree(home, ignore_errors=True)
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in rows.items()),
                  file=sys.stderr)
    finally:
        sshd.stop()
        shutil.rmtree(work, ignore_errors=True)

    m = {k: median(v) for k, v in rows.items()}
    load = os.getloadavg()
    print(f"Measured {time.strftime('%Y-%m-%d', time.gmtime())} on {os.cpu_count()} cores, "
          f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; "
          f"{args.mib} MiB in {args.files} files plus a script; medians of {args.rounds} rounds "
          "(all rounds in the same run, on the same files).")
    print()
    print("`tnet` is the secure default (QUIC, mutual TLS); `tnet --insecure` is plain TCP. "
          "Ratios above 1x: tnet is faster.")
    print()
    print("| | scp -r | rsync -a | tnet | tnet --insecure | tnet vs scp | tnet vs rsync "
          "| --insecure vs scp | --insecure vs rsync | tnet / --insecure (time) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| first upload | {m['scp']:.2f} s | {m['rsync']:.2f} s | {m['tnet']:.2f} s | "
          f"{m['tnet_insecure']:.2f} s | {m['scp'] / m['tnet']:.2f}x | {m['rsync'] / m['tnet']:.2f}x | "
          f"{m['scp'] / m['tnet_insecure']:.2f}x | {m['rsync'] / m['tnet_insecure']:.2f}x | "
          f"{m['tnet'] / m['tnet_insecure']:.2f} |")
    for what, k in (("again, nothing changed", "same"), ("again, one small file changed", "one")):
        r_ = m["rsync_" + k]
        s_, i_ = m["tnet_" + k], m["tnet_insecure_" + k]
        print(f"| {what} | | {r_:.3f} s | {s_:.3f} s | {i_:.3f} s | | {r_ / s_:.1f}x | | "
              f"{r_ / i_:.1f}x | {s_ / i_:.2f} |")
    print()
    print(f"Bytes sent with one small file changed: rsync {median(sent['rsync_one']):.0f} "
          f"(its `Total bytes sent`, protocol included), tnet {median(sent['tnet_one']):.0f}, "
          f"tnet --insecure {median(sent['tnet_insecure_one']):.0f} "
          "(file bytes the host received).")
    print()
    print("Every round (s): " + "; ".join(f"{k} " + " ".join(f"{x:.3f}" for x in v) for k, v in rows.items()))
    floor = os.path.join(args.bin_dir, "examples", "transport_floor")
    if os.path.exists(floor):
        # Right after the rounds, on the same machine: what each link costs
        # with nothing of tnet around it, so that the figures above can be
        # read against the most their link allows.
        print()
        print("The links' floor, right after: bare Zenoh carrying the same bytes between two "
              "processes (`transport_floor`: no files, no hashing, no disk, no host):")
        print()
        out = subprocess.run([floor, "--mib", str(args.mib), "--rounds", str(args.rounds)],
                             check=True, capture_output=True, text=True).stdout
        print(out.rstrip())


if __name__ == "__main__":
    main()
