#!/usr/bin/env python3
"""Uploading 1 GiB of task files: tnet next to scp and rsync over OpenSSH.

Run through scripts/bench-upload.sh, which builds the release binaries first.
Every round, in the same run and on the same files:

- scp -r into an empty folder, rsync -a into an empty folder;
- rsync again with nothing changed (its own no-change run);
- `tnet run` on a host with an empty blob cache and a client with an empty
  hash cache (so it hashes every byte);
- `tnet edit --file` with nothing changed (the re-submit);
- one small file changed: rsync and `tnet edit`, with the bytes each sent.

Prints a Markdown section for docs/benchmarks.md.
"""

import argparse
import getpass
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

MIB = 1 << 20


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed(cmd, env=None, capture=False):
    """Runs cmd, failing loudly; returns (seconds, stdout+stderr)."""
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
    """A release tnet-host with a fresh home, scouting off, on a loopback port."""

    def __init__(self, bin_dir, home):
        self.port = free_port()
        self.endpoint = f"tcp/127.0.0.1:{self.port}"
        self.log = open(os.path.join(home, "host.log"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(bin_dir, "tnet-host"), "--name", "bench", "--home", home,
             "--no-multicast-scouting", "-l", self.endpoint],
            stdout=self.log, stderr=subprocess.STDOUT,
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
    rows = {k: [] for k in ("scp", "rsync", "tnet", "rsync_same", "tnet_same",
                            "rsync_one", "tnet_one")}
    sent = {"rsync_one": [], "tnet_one": []}
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

            home = os.path.join(work, f"home-{r}")
            os.makedirs(home)
            host = Host(bin_dir, home)
            env = dict(os.environ, TNET_CONNECT=host.endpoint,
                       XDG_CACHE_HOME=os.path.join(work, f"cache-{r}"))
            try:
                deadline = time.time() + 20
                while subprocess.run([tnet, "hosts"], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL).returncode != 0:
                    if time.time() > deadline:
                        sys.exit("the host did not answer")
                rows["tnet"].append(timed([tnet, "run", task], env=env)[0])
                rows["tnet_same"].append(timed([tnet, "edit", "big", "--file", task, "--yes"], env=env)[0])

                # One small file changed.
                with open(os.path.join(src, "run.sh"), "a") as f:
                    f.write(f"# round {r}\n")
                took, out = timed(rsync)
                rows["rsync_one"].append(took)
                for line in out.splitlines():
                    if line.startswith("Total bytes sent:"):
                        sent["rsync_one"].append(int(line.split(":")[1].replace(",", "").strip()))
                before = json.loads(timed([tnet, "hosts", "--json"], env=env)[1])[0]["bytes_received"]
                rows["tnet_one"].append(timed([tnet, "edit", "big", "--file", task, "--yes"], env=env)[0])
                after = json.loads(timed([tnet, "hosts", "--json"], env=env)[1])[0]["bytes_received"]
                sent["tnet_one"].append(after - before)
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
    print("| | scp -r | rsync -a | tnet | tnet vs scp | tnet vs rsync |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| first upload | {m['scp']:.2f} s | {m['rsync']:.2f} s | {m['tnet']:.2f} s | "
          f"{m['scp'] / m['tnet']:.1f}x faster | {m['rsync'] / m['tnet']:.1f}x faster |")
    print(f"| again, nothing changed | | {m['rsync_same']:.3f} s | {m['tnet_same']:.3f} s | | "
          f"{m['rsync_same'] / m['tnet_same']:.1f}x faster |")
    print(f"| again, one small file changed | | {m['rsync_one']:.3f} s | {m['tnet_one']:.3f} s | | "
          f"{m['rsync_one'] / m['tnet_one']:.1f}x faster |")
    print()
    print(f"Bytes sent with one small file changed: rsync {median(sent['rsync_one']):.0f} "
          f"(its `Total bytes sent`, protocol included), tnet {median(sent['tnet_one']):.0f} "
          "(file bytes the host received).")
    print()
    print("Every round: " + "; ".join(f"{k} " + " ".join(f"{x:.2f}" for x in v) for k, v in rows.items()))


if __name__ == "__main__":
    main()
