"""Rules for serving strangers: public mode, messages without server paths, Markdown and
figure escaping, display names, the unpacking of uploaded archives, and
temporary folders that go with the process.

Public mode is on when the app runs as a Hugging Face Space (``SPACE_ID`` is set) or with
``EMOALIGN_PUBLIC=1`` (``EMOALIGN_PUBLIC=0`` turns it off even on a Space). In public mode no
server path is accepted from a visitor: audio, adapters and training data come as uploads.
"""

from __future__ import annotations

import atexit
import html
import os
import re
import shutil
import tempfile
import time
import zipfile
from collections.abc import Iterable
from pathlib import Path

from .audio.decoding import AUDIO_SUFFIXES
from .text.labels import INVISIBLE

MAX_ARCHIVE_MEMBERS = 2000  # files in one uploaded zip
MAX_UNPACKED_BYTES = 2 << 30  # all files of one upload, unpacked (2 GiB)
MAX_COMPRESSION_RATIO = 200  # a member that unpacks to more than this is a zip bomb
MAX_NAME_CHARS = 200  # a song's display name
LEGACY_TEMP_AGE = 86400.0  # s: temp folders of an older naming (no process id) swept after this


def public_mode(environ: dict[str, str] | None = None) -> bool:
    """True on a Hugging Face Space (SPACE_ID) or with EMOALIGN_PUBLIC=1; EMOALIGN_PUBLIC=0 wins."""
    env = os.environ if environ is None else environ
    flag = env.get("EMOALIGN_PUBLIC", "").strip().lower()
    if flag in ("0", "false", "no", "off"):
        return False
    return flag in ("1", "true", "yes", "on") or bool(env.get("SPACE_ID"))


class UnsafeInput(ValueError):
    """Input refused for safety (a server path in public mode, a hostile archive); the message
    is written for the user."""


# An absolute POSIX path of two or more components ("/tmp/gradio/x/song.ogg"), or a Windows
# one ("C:\\x\\y"); the last component is kept.
_PATH = re.compile(r"(?<![\w./~-])(?:~|[A-Za-z]:)?(?:[/\\][^\s/\\'\"`,;:()<>\[\]]+){2,}[/\\]?")


def scrub_paths(message: str) -> str:
    """`message` with every absolute path replaced by its last component (the file's name)."""
    def last(match: re.Match) -> str:
        parts = [p for p in re.split(r"[/\\]", match.group(0)) if p]
        return parts[-1] if parts else ""
    return _PATH.sub(last, message)


_MARKDOWN = re.compile(r"([\\`*_\[\]|~#$])")


def escape_markdown(text: str) -> str:
    """`text` shown literally inside a line of Markdown: emphasis, code, link, table, heading
    and LaTeX characters backslash-escaped, HTML's `<`, `>` and `&` as entities, line breaks
    as spaces. ("062.ogg" stays as it is.)"""
    text = " ".join(str(text).split())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MARKDOWN.sub(r"\\\1", text)


def plot_text(text: object) -> str:
    """`text` drawn literally by Plotly (axis labels, text and hover, names): control and
    bidirectional characters dropped, `&`, `<` and `>` as entities, so `<a href=...>` or
    `<br>` in a word or a file name is shown, never followed. Callers of `go.*` figures pass
    every user string (words, song names) through this once."""
    return html.escape(" ".join(INVISIBLE.sub(" ", str(text)).split()), quote=False)


def clean_name(name: str) -> str:
    """A song's name as shown: control and bidirectional characters (U+202E right-to-left
    override, ...) dropped, whitespace collapsed, at most MAX_NAME_CHARS characters."""
    name = " ".join(INVISIBLE.sub("", str(name)).split())
    return (name[:MAX_NAME_CHARS - 3] + "...") if len(name) > MAX_NAME_CHARS else name or "song"


def stage_uploads(files: Iterable[str | Path], names: Iterable[str], destination: Path,
                  max_bytes: int = MAX_UNPACKED_BYTES) -> list[str]:
    """Copy uploaded audio files, and the audio inside uploaded zips, into `destination`.

    `names` are the uploads' original file names. Zip members keep their relative folders;
    absolute names, `..`, links, non-audio members and archives inside archives are skipped.
    Raises UnsafeInput when the upload unpacks to more than `max_bytes` or
    `MAX_ARCHIVE_MEMBERS` files, or a member looks like a zip bomb. Returns the relative paths
    of the staged audio files.
    """
    destination.mkdir(parents=True, exist_ok=True)
    staged: list[str] = []
    total = 0
    for source, name in zip(files, names):
        source, name = Path(source), Path(str(name)).name
        if zipfile.is_zipfile(source):
            staged += _unzip(source, name, destination, max_bytes - total)
            total = sum((destination / s).stat().st_size for s in staged)
            continue
        if _suffix(name) not in AUDIO_SUFFIXES:
            raise UnsafeInput(f"{name} is neither an audio file nor a zip of audio files.")
        total += source.stat().st_size
        if total > max_bytes:
            raise UnsafeInput(f"The upload is larger than {max_bytes >> 20} MB in all.")
        target = destination / _unique(destination, name)
        shutil.copyfile(source, target)
        staged.append(target.name)
    return staged


def _unzip(source: Path, name: str, destination: Path, budget: int) -> list[str]:
    staged = []
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError) as error:
        raise UnsafeInput(f"{name} is not a readable zip file.") from error
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ARCHIVE_MEMBERS:
            raise UnsafeInput(f"{name} holds {len(members)} files; at most "
                              f"{MAX_ARCHIVE_MEMBERS} per upload.")
        wanted = []
        for member in members:
            parts = [p for p in member.filename.replace("\\", "/").split("/") if p]
            is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
            if (member.is_dir() or not parts or member.filename.startswith(("/", "\\"))
                    or any(p in (".", "..") or ":" in p for p in parts) or is_link
                    or _suffix(parts[-1]) not in AUDIO_SUFFIXES or parts[0] == "__MACOSX"):
                continue
            wanted.append((member, parts))
        tops = {parts[0] for _, parts in wanted}
        if len(tops) == 1 and all(len(parts) > 1 for _, parts in wanted):
            wanted = [(m, parts[1:]) for m, parts in wanted]  # one folder zipped: drop its name
        for member, parts in wanted:
            if member.file_size > budget:
                raise UnsafeInput(f"{name} unpacks to more than the upload limit.")
            if (member.compress_size
                    and member.file_size / member.compress_size > MAX_COMPRESSION_RATIO):
                raise UnsafeInput(f"{name} looks like a zip bomb ({parts[-1]} would grow "
                                  f"{member.file_size // member.compress_size}-fold).")
            target = destination.joinpath(*parts)
            written = 0
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(target, "wb") as out:
                    while block := src.read(1 << 20):
                        written += len(block)
                        if written > budget:  # the header lied about the size
                            raise UnsafeInput(f"{name} unpacks to more than the upload limit.")
                        out.write(block)
            except (OSError, zipfile.BadZipFile, EOFError) as error:  # a.ogg and a.ogg/b.ogg
                raise UnsafeInput(f"{name} cannot be unpacked: {'/'.join(parts)[:80]!r} clashes "
                                  f"with another member of the same name, or is damaged."
                                  ) from error
            budget -= written
            staged.append("/".join(parts))
    return staged


def _suffix(name: str) -> str:
    return Path(name).suffix.lower().lstrip(".")


def _unique(folder: Path, name: str) -> str:
    stem, suffix, n, candidate = Path(name).stem, Path(name).suffix, 2, name
    while (folder / candidate).exists():
        candidate, n = f"{stem} ({n}){suffix}", n + 1
    return candidate


def owned_temp_dir(prefix: str) -> Path:
    """A new folder `<prefix><pid>-...` in the temp dir, removed when this process exits
    (atexit: a normal end, Ctrl+C, or SIGTERM where the app turns it into one); folders of
    the same prefix left by processes that have ended are swept first."""
    sweep_temp_dirs(prefix)
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def sweep_temp_dirs(prefix: str, root: str | Path | None = None,
                    legacy_age: float = LEGACY_TEMP_AGE) -> int:
    """Remove `<prefix><pid>-*` folders whose process has ended, and folders of the older
    naming (`<prefix>` + random letters, no process id) untouched for `legacy_age` s.
    Returns how many went."""
    removed = 0
    for folder in Path(root or tempfile.gettempdir()).glob(f"{prefix}*"):
        pid, dash, _ = folder.name[len(prefix):].partition("-")
        try:
            if dash and pid.isdigit():
                stale = not _alive(int(pid))
            else:
                stale = time.time() - folder.stat().st_mtime > legacy_age
        except OSError:
            continue
        if stale and folder.is_dir() and not folder.is_symlink():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
