// A system tray for the tests' desktop (Xvfb has none): a StatusNotifierWatcher on the session
// bus, the service a desktop's tray runs and that libayatana-appindicator registers its icon
// with. It keeps the icons registered, and reads and clicks their menus (com.canonical.dbusmenu)
// as a tray does when a person opens one.
import dbus from "dbus-next";

const { Interface, ACCESS_READ } = dbus.interface;

class Watcher extends Interface {
  constructor() {
    super("org.kde.StatusNotifierWatcher");
    this.items = [];
  }
  get RegisteredStatusNotifierItems() { return this.items; }
  get IsStatusNotifierHostRegistered() { return true; }
  get ProtocolVersion() { return 0; }
  RegisterStatusNotifierItem(service) {
    this.items.push(service);
    this.StatusNotifierItemRegistered(service);
  }
  RegisterStatusNotifierHost(_service) {}
  StatusNotifierItemRegistered(service) { return service; }
  StatusNotifierItemUnregistered(service) { return service; }
  StatusNotifierHostRegistered() {}
}

Watcher.configureMembers({
  properties: {
    RegisteredStatusNotifierItems: { signature: "as", access: ACCESS_READ },
    IsStatusNotifierHostRegistered: { signature: "b", access: ACCESS_READ },
    ProtocolVersion: { signature: "i", access: ACCESS_READ },
  },
  methods: {
    RegisterStatusNotifierItem: { inSignature: "s", outSignature: "" },
    RegisterStatusNotifierHost: { inSignature: "s", outSignature: "" },
  },
  signals: {
    StatusNotifierItemRegistered: { signature: "s" },
    StatusNotifierItemUnregistered: { signature: "s" },
    StatusNotifierHostRegistered: { signature: "" },
  },
});

/** `promise`, or an error after `ms`: a bus call to a process that does not answer must not
 * hold a test forever. */
function within(ms, what, promise) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms).unref()),
  ]);
}

/** Starts the tray on the session bus; `stop()` takes it away. */
export async function startTray() {
  const bus = dbus.sessionBus();
  const watcher = new Watcher();
  bus.export("/StatusNotifierWatcher", watcher);
  await bus.requestName("org.kde.StatusNotifierWatcher", 0);
  return {
    /** The icons registered so far (each a bus name or an object path). */
    items: () => [...watcher.items],
    /** The labels of the first icon's menu items, in order. */
    async menuLabels() {
      const { menu } = await within(5_000, "the icon's menu", firstMenu(bus, watcher));
      const [, layout] = await within(5_000, "the menu's items", menu.GetLayout(0, -1, ["label"]));
      return children(layout).map((c) => c.label);
    },
    /** Clicks the first icon's menu item labelled `label`. */
    async click(label) {
      const { menu } = await within(5_000, "the icon's menu", firstMenu(bus, watcher));
      const [, layout] = await within(5_000, "the menu's items", menu.GetLayout(0, -1, ["label"]));
      const item = children(layout).find((c) => c.label === label);
      if (!item) throw new Error(`no menu item “${label}”`);
      await within(5_000, `a click on ${label}`, menu.Event(item.id, "clicked", new dbus.Variant("s", ""), 0));
    },
    stop() { bus.disconnect(); },
  };
}

/** A menu layout's children: [id, {label}, children] each. */
function children(layout) {
  return layout[2].map((v) => {
    const [id, props] = v.value;
    return { id, label: props.label?.value ?? "" };
  });
}

/** The dbusmenu of the first registered icon. An icon registers by its object path; the bus
 * name that exports it is found by asking each connection. */
async function firstMenu(bus, watcher) {
  const item = watcher.items[0];
  if (!item) throw new Error("no icon in the tray");
  const path = item.startsWith("/") ? item : "/StatusNotifierItem";
  const names = item.startsWith("/") ? await connections(bus) : [item];
  for (const name of names) {
    try {
      const obj = await within(2_000, name, bus.getProxyObject(name, path));
      const props = obj.getInterface("org.freedesktop.DBus.Properties");
      const menuPath = (await props.Get("org.kde.StatusNotifierItem", "Menu")).value;
      const menuObj = await bus.getProxyObject(name, menuPath);
      return { menu: menuObj.getInterface("com.canonical.dbusmenu") };
    } catch { /* not this one */ }
  }
  throw new Error(`nobody exports the icon at ${path}`);
}

async function connections(bus) {
  const obj = await bus.getProxyObject("org.freedesktop.DBus", "/org/freedesktop/DBus");
  const names = await obj.getInterface("org.freedesktop.DBus").ListNames();
  return names.filter((n) => n.startsWith(":"));
}
