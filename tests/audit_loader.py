"""Load hostile model files under a `sys.addaudithook` tripwire; print one JSON line per file.

Usage: python audit_loader.py BENIGN.keras HOSTILE1.keras ...

The benign file is loaded first, so every module loading needs is imported before the hook
goes in; from then on any import of a new module is recorded. Recorded events: `open` of any
path but the file being loaded, process creation (`os.system`, `os.exec*`, `os.posix_spawn`,
`subprocess.Popen`, `os.fork`), `exec` / `compile`, `import` of a module not already imported,
`pickle.find_class`, every `socket.*` event, and file-system writes (`os.remove`, `os.rename`,
`os.mkdir`, `os.chmod`, `shutil.*`, ...). Not recorded: reads of the source file of a module
already imported (linecache formatting a traceback; a file cannot choose those paths).
"""
import json
import os
import sys
import warnings

import trine
import trine.registry

_WATCHED = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
            "subprocess.Popen", "exec", "compile", "pickle.find_class", "socket.", "os.remove",
            "os.unlink", "os.rename", "os.replace", "os.mkdir", "os.rmdir", "os.chmod",
            "os.chown", "os.truncate", "os.symlink", "os.link", "shutil.", "ctypes.",
            "marshal.loads", "os.putenv", "os.unsetenv", "urllib.Request", "webbrowser.open")

current = {"path": None, "events": []}
_SOURCES: set = set()


def _loaded_sources():
    """Source files of modules already imported: Python's linecache reads them to format a
    traceback (JAX's traceback filtering does so on every error); a file cannot direct that."""
    return {os.path.realpath(m.__file__) for m in list(sys.modules.values())
            if isinstance(getattr(m, "__file__", None), str) and m.__file__.endswith(".py")}


def hook(event, args):
    path = current["path"]
    if path is None:
        return
    if event == "open":
        target = args[0]
        if isinstance(target, int):  # reopening an already-open descriptor
            current["events"].append(f"open fd {target}")
        elif not isinstance(target, (str, bytes, os.PathLike)):
            current["events"].append(f"open {target!r}")
        else:
            target = os.fsdecode(target)
            mode = args[1] if isinstance(args[1], str) else ""
            source_read = (mode in ("r", "rb") and os.path.realpath(target) in _SOURCES)
            if target != path and not source_read:
                current["events"].append(f"open {target!r} {args[1]!r}")
    elif event == "import":
        if args[0] not in sys.modules:
            current["events"].append(f"import {args[0]}")
    elif event.startswith(_WATCHED):
        current["events"].append(f"{event} {str(args)[:200]}")


def main():
    benign, *hostile = sys.argv[1:]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trine.models.load_model(benign)  # imports everything a load needs
    trine.registry.preload()
    _SOURCES.update(_loaded_sources())
    sys.addaudithook(hook)
    for p in hostile:
        current["path"], current["events"] = p, []
        try:
            trine.models.load_model(p)
            outcome, message = "loaded", ""
        except BaseException as e:  # noqa: BLE001 - the test reports what escaped
            outcome, message = type(e).__name__, str(e)
        events = list(current["events"])
        current["path"] = None
        print(json.dumps({"path": p, "outcome": outcome, "message": message,
                          "events": events}), flush=True)


if __name__ == "__main__":
    main()
