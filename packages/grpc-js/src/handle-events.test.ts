import { describe, expect, it } from "vitest";
import { HandleEvents } from "./handle-events.js";

const invalid = (message: string) => new Error(message);

describe("HandleEvents", () => {
  it("calls each listener of an event, logs one that throws, and unsubscribes", () => {
    const logged: unknown[] = [];
    const events = new HandleEvents({ warn: (fields, message) => logged.push([fields, message]) }, invalid);
    const heard: string[] = [];
    const off = events.on("fresh", (e) => heard.push(`first ${e.service}`));
    events.on("fresh", () => {
      throw new Error("boom");
    });
    events.on("fresh", (e) => heard.push(`third ${e.service}`));
    events.emit("fresh", { service: "svc" });
    expect(heard).toEqual(["first svc", "third svc"]);
    expect(logged).toEqual([[{ service: "svc", err: new Error("boom") }, 'a "fresh" listener threw']]);
    off();
    events.emit("fresh", { service: "svc" });
    expect(heard).toEqual(["first svc", "third svc", "third svc"]);
    // Other events have their own listeners.
    events.emit("protected", { service: "svc", removed: 9, total: 10, holdMs: 1 });
    expect(heard).toHaveLength(3);
  });

  it("refuses an unknown event and a listener that is not a function", () => {
    const events = new HandleEvents({}, invalid);
    expect(() => events.on("updated" as "update", () => {})).toThrow('unknown event "updated"');
    expect(() => events.on("update", "x" as never)).toThrow("the update listener must be a function");
  });
});
