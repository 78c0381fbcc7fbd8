"""The `zoo` command as a person uses it, driven as a subprocess: encodings, one error format and exit-code
convention, refused empty inputs, truncations and out-of-distribution inputs reported once, `zoo solve`'s
explanations, progress bars only on stderr, and the interactive chat (piped stdin and a pseudo-terminal)."""

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import pytest
from _whitening_helpers import make_tiny_folder
from conftest import REPO

QUESTION = "学校把135本练习本平均分给3个班，每班多少本？"


def zoo(*args, stdin=None, timeout=300, cwd=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "2"}
    data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    proc = subprocess.run([sys.executable, "-m", "nlpzoo", *args], input=data, capture_output=True,
                          timeout=timeout, env=env, cwd=cwd)
    proc.out = proc.stdout.decode("utf-8")
    proc.err = proc.stderr.decode("utf-8")
    return proc


def one_error_line(proc, command: str) -> str:
    """The whole stderr is one line in the common format (no traceback)."""
    lines = proc.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"zoo {command}: error: "), proc.err
    return lines[0]


@pytest.fixture(scope="module")
def gbk_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("gbk") / "questions_gbk.txt"
    path.write_bytes((QUESTION + "\n").encode("gbk"))
    return path


# ------------------------------------------------------------------------------------------------ input
@pytest.mark.parametrize("command", ["solve", "tokenize", "embed", "summarize"])
def test_undecodable_file_is_one_line_naming_file_offset_and_option(command, gbk_file):
    proc = zoo(command, "--file", str(gbk_file))
    assert proc.returncode == 1
    line = one_error_line(proc, command)
    assert str(gbk_file) in line and "not valid utf-8 at byte 4" in line and "--encoding gbk" in line


def test_gbk_on_stdin_is_refused_not_solved(gbk_file):
    proc = zoo("solve", "-", stdin=gbk_file.read_bytes())
    assert proc.returncode == 1 and proc.out == ""
    assert "stdin is not valid utf-8 at byte 4" in one_error_line(proc, "solve")


def test_gbk_file_reads_with_encoding_option(gbk_file):
    proc = zoo("tokenize", "--encoding", "gbk", "--file", str(gbk_file), "--json")
    assert proc.returncode == 0, proc.err
    tokens = json.loads(proc.out)["tokens"]
    assert tokens[:4] == ["[CLS]", "学校", "把", "135"]


def test_stdin_encoding_option(gbk_file):
    proc = zoo("tokenize", "--encoding", "gb18030", "-", stdin=gbk_file.read_bytes())
    assert proc.returncode == 0 and proc.out.split()[:3] == ["[CLS]", "学校", "把"]


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp, "is a directory"),
    (lambda tmp: tmp / "missing.txt", "no such file"),
])
def test_directories_and_missing_files(make, message, tmp_path):
    proc = zoo("summarize", "--file", str(make(tmp_path)))
    assert proc.returncode == 1 and message in one_error_line(proc, "summarize")


# ---------------------------------------------------------------------------------- errors and exit codes
def test_usage_errors_exit_2_in_the_common_format():
    proc = zoo("solve", "--no-such-option", "x")
    assert proc.returncode == 2 and proc.err.splitlines()[-1].startswith("zoo solve: error: unrecognized arguments")
    proc = zoo("tokenize", "--encoding", "klingon", "x")
    assert proc.returncode == 2 and "zoo tokenize: error: argument --encoding: unknown encoding" in proc.err
    proc = zoo("tokenize")
    assert proc.returncode == 2 and "no text given" in one_error_line(proc, "tokenize")
    proc = zoo("embed", "--whitening", "a", "--fit-whitening", "b", "x")
    assert proc.returncode == 2 and "not both" in one_error_line(proc, "embed")


def test_runtime_errors_exit_1_in_the_common_format(tmp_path):
    proc = zoo("tokenize", "--model", str(tmp_path / "nothing"), "x")
    assert proc.returncode == 1 and "cannot load the tokenizer" in one_error_line(proc, "tokenize")
    proc = zoo("solve", "--model", str(tmp_path / "nothing"), QUESTION)
    assert proc.returncode == 1 and "cannot load the solver" in one_error_line(proc, "solve")


@pytest.mark.parametrize("args", [("embed", ""), ("chat", "--once", ""), ("summarize", "   "), ("solve", " ")])
def test_empty_inputs_are_refused(args):
    proc = zoo(*args)
    assert proc.returncode == 1 and proc.out == ""
    assert "is empty" in one_error_line(proc, args[0])


def test_help_documents_the_convention():
    proc = zoo("--help")
    assert proc.returncode == 0
    for text in ("exit codes", "zoo COMMAND: error: MESSAGE", "130", "usage error", "runtime error", "--encoding"):
        assert text in proc.out


# ----------------------------------------------------------------------------- truncations, reported once
def _warnings(proc, command):
    return [line for line in proc.err.splitlines() if line.startswith(f"zoo {command}: warning: ")]


def test_tokenize_truncation_counted_once():
    proc = zoo("tokenize", "--maxlen", "4", "--json", "我爱北京天安门", "今天天气很好，我想去公园玩。")
    assert proc.returncode == 0, proc.err
    records = [json.loads(line) for line in proc.out.splitlines()]
    assert [len(r["ids"]) for r in records] == [4, 4]
    cut = [r["truncated_tokens"] for r in records]
    assert cut[0] == 2 and cut[1] > 2  # [CLS] 我 爱 北京 天安门 [SEP]: two words cut
    assert _warnings(proc, "tokenize") == [
        f"zoo tokenize: warning: {sum(cut)} tokens cut from 2 of 2 input(s) to fit the model"]


def test_summarize_reports_dropped_clauses():
    document = "".join(f"第{i}条，" for i in range(300))  # 300 clauses; the pipeline keeps the last 256
    proc = zoo("summarize", "--json", "--max-new-tokens", "4", document, timeout=600)
    assert proc.returncode == 0, proc.err
    record = json.loads(proc.out)
    assert record["truncated_clauses"] == 44 and record["clauses"] == 256
    assert any("44 clauses cut from 1 of 1" in w for w in _warnings(proc, "summarize"))


def test_chat_reports_dropped_history_turns():
    history = ["今天" * 150, "天气" * 150, "很好" * 150, "你好"]
    proc = zoo("chat", "--once", "--json", "--max-new-tokens", "4", "--seed", "0", *history)
    assert proc.returncode == 0, proc.err
    record = json.loads(proc.out)
    assert record["truncated_turns"] >= 1
    [warning] = _warnings(proc, "chat")
    assert f"{record['truncated_turns']} history turns cut from 1 of 1" in warning


# --------------------------------------------------------------------------------- out of distribution
def test_chinese_to_the_english_embedder_warns_with_share_and_hint():
    proc = zoo("embed", "今天天气很好", "A man is playing guitar.")
    assert proc.returncode == 0, proc.err
    [warning] = _warnings(proc, "embed")
    assert "1 of 2 input(s)" in warning and "[UNK]" in warning and "right model" in warning
    assert all(json.loads(line)["vector"] for line in proc.out.splitlines())


def test_solve_explains_in_text_and_json():
    text = zoo("solve", "asdkfj qwer")
    data = zoo("solve", "--json", "asdkfj qwer")
    assert text.returncode == data.returncode == 0
    reason = json.loads(data.out)["reason"]
    assert "no numbers" in reason and f"could not solve: {reason}" in text.out
    for proc in (text, data):
        warnings = " ".join(_warnings(proc, "solve"))
        assert "no Chinese characters" in warnings and "[n0]" not in warnings
    assert "[n0]" not in reason


# ------------------------------------------------------------------------------------------- progress
@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    return make_tiny_folder(tmp_path_factory.mktemp("tiny_progress"))


def test_progress_only_on_stderr_and_only_when_asked(tiny_encoder):
    args = ("embed", "--model", str(tiny_encoder), "--pooling", "cls", "--device", "cpu", "--batch-size", "1",
            "今天", "明天", "后天")
    forced, quiet, piped = zoo(*args, "--progress"), zoo(*args, "--quiet"), zoo(*args)
    for proc in (forced, quiet, piped):
        assert proc.returncode == 0, proc.err
        assert [json.loads(line)["text"] for line in proc.out.splitlines()] == ["今天", "明天", "后天"]
    assert "encode" in forced.err and "3/3" in forced.err
    assert quiet.err == "" and piped.err == ""  # stderr is a pipe here: no bar by default


# ------------------------------------------------------------------------------------------------ chat
def test_chat_piped_help_unknown_command_and_eof():
    proc = zoo("chat", "--seed", "1", "--max-new-tokens", "4", stdin="/help\n/frobnicate now\n你好\n")
    assert proc.returncode == 0, proc.err
    assert len(proc.out.splitlines()) == 1  # one reply: neither /help nor /frobnicate reached the model
    assert "/reset" in proc.err and "/quit" in proc.err
    assert "unknown command /frobnicate" in proc.err and "Traceback" not in proc.err


def _spawn_in_pty(*args):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2"}
    pid, fd = pty.fork()
    if pid == 0:  # child: the terminal is its stdin, stdout and stderr
        # as a user's shell starts it: an ignored SIGINT is inherited through exec (a runner that starts the test
        # suite in the background ignores it), and Python then never raises KeyboardInterrupt for Ctrl-C
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.execve(sys.executable, [sys.executable, "-m", "nlpzoo", *args], env)
    return pid, fd


class _Terminal:
    """What the child wrote to its terminal, read up to each expected marker in turn."""

    def __init__(self, fd):
        self.fd, self.seen, self.pos = fd, b"", 0

    def expect(self, marker: bytes, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while marker not in self.seen[self.pos:]:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} in {self.seen[self.pos:]!r}"
            if select.select([self.fd], [], [], left)[0]:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                assert chunk, f"output ended before {marker!r}: {self.seen[self.pos:]!r}"
                self.seen += chunk
        self.pos = self.seen.index(marker, self.pos) + len(marker)

    def drain(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and select.select([self.fd], [], [], 0.2)[0]:
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.seen += chunk


def _wait(pid, term: _Terminal, timeout: float = 60) -> int:
    """The child's exit code. The terminal is read meanwhile: a child whose last words fill the pty buffer would
    otherwise block in write() and look hung."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        term.drain(timeout=0.1)
    os.kill(pid, signal.SIGKILL)
    raise AssertionError(f"zoo chat did not exit; its terminal ends with {term.seen[-1500:]!r}")


@pytest.mark.parametrize("key, code", [(b"\x03", 130), (b"\x04", 0)])  # Ctrl-C, Ctrl-D at the prompt
def test_chat_in_a_terminal_leaves_cleanly(key, code):
    pid, fd = _spawn_in_pty("chat", "--seed", "1", "--max-new-tokens", "4")
    term = _Terminal(fd)
    try:
        term.expect(b"> ")
        os.write(fd, b"/help\r")
        term.expect(b"/reset")
        term.expect(b"> ")
        os.write(fd, key)
        rc = _wait(pid, term)
        term.drain()
    finally:
        os.close(fd)
    assert rc == code
    assert b"Traceback" not in term.seen and b"KeyboardInterrupt" not in term.seen
