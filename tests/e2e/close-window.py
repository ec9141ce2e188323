#!/usr/bin/python3
# Asks the window whose title starts with argv[1] to close, as a window manager does when its
# title bar's close button is clicked: a WM_DELETE_WINDOW message (ICCCM §4.2.8). The tests' Xvfb
# has no window manager, and WebDriver's "close window" would end its session instead.
import sys

from Xlib import X, display, protocol

prefix = sys.argv[1]
d = display.Display()
WM_PROTOCOLS = d.intern_atom("WM_PROTOCOLS")
WM_DELETE_WINDOW = d.intern_atom("WM_DELETE_WINDOW")


def title(w):
    try:
        name = w.get_full_text_property(d.intern_atom("_NET_WM_NAME")) or w.get_wm_name()
    except Exception:
        return ""
    return name.decode(errors="replace") if isinstance(name, bytes) else (name or "")


def closable(w):
    try:
        return WM_DELETE_WINDOW in (w.get_wm_protocols() or [])
    except Exception:
        return False


def find(w):
    if title(w).startswith(prefix) and closable(w):
        return w
    for child in w.query_tree().children:
        found = find(child)
        if found:
            return found
    return None


window = find(d.screen().root)
if window is None:
    sys.exit(f"no window titled {prefix}…")
message = protocol.event.ClientMessage(
    window=window,
    client_type=WM_PROTOCOLS,
    data=(32, [WM_DELETE_WINDOW, X.CurrentTime, 0, 0, 0]),
)
window.send_event(message, event_mask=X.NoEventMask)
d.flush()
