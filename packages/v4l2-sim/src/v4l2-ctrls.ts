/**
 * A control handler (drivers/media/v4l2-core/v4l2-ctrls-*.c, reduced): integer, boolean and menu
 * controls with Linux's validation (integers are clamped to the step grid, menu indexes out of range
 * are ERANGE, unknown ids EINVAL) and the VIDIOC_*CTRL* ioctls.
 */
import { Errno, check } from "@dmabuf/core";
import {
  V4L2_CTRL_FLAG_NEXT_CTRL, V4L2_CTRL_FLAG_READ_ONLY, V4L2_CTRL_TYPE_BOOLEAN, V4L2_CTRL_TYPE_MENU, V4L2_CTRL_WHICH_CUR_VAL, V4L2_CTRL_WHICH_DEF_VAL, type v4l2_control, type v4l2_ext_controls,
  type v4l2_queryctrl, type v4l2_querymenu,
} from "./uapi.js";

/** struct v4l2_ctrl_config, reduced. */
export interface V4l2CtrlConfig {
  id: number;
  name: string;
  type: number;
  min: number;
  max: number;
  step?: number;
  def: number;
  flags?: number;
  menu?: readonly string[];
  /** s_ctrl: applies a new value (already validated). */
  set?(value: number): void;
}

export interface V4l2Ctrl extends V4l2CtrlConfig {
  cur: number;
}

/** struct v4l2_ctrl_handler */
export class V4l2CtrlHandler {
  private readonly ctrls = new Map<number, V4l2Ctrl>();

  /** v4l2_ctrl_new_custom / _std / _std_menu_items */
  add(cfg: V4l2CtrlConfig): V4l2Ctrl {
    const c: V4l2Ctrl = { step: 1, flags: 0, ...cfg, cur: cfg.def };
    this.ctrls.set(c.id, c);
    c.set?.(c.def);
    return c;
  }

  find(id: number): V4l2Ctrl | undefined {
    return this.ctrls.get(id);
  }

  /** validate_new(): the value the control would take, or ERANGE. */
  private validate(c: V4l2Ctrl, value: number, call: string): number {
    switch (c.type) {
      case V4L2_CTRL_TYPE_MENU:
        check(Number.isInteger(value) && value >= c.min && value <= c.max, "ERANGE", call, `menu index ${value} out of range ${c.min}..${c.max} for "${c.name}"`);
        return value;
      case V4L2_CTRL_TYPE_BOOLEAN:
        return value ? 1 : 0;
      default: {
        // ROUND_TO_RANGE: clamp, then snap to the step grid.
        const v = Math.min(Math.max(value, c.min), c.max);
        const step = c.step ?? 1;
        return c.min + Math.round((v - c.min) / step) * step;
      }
    }
  }

  private lookup(id: number, call: string): V4l2Ctrl {
    const c = this.ctrls.get(id);
    if (!c) throw new Errno("EINVAL", call, `unknown control id 0x${id.toString(16)}`);
    return c;
  }

  /** VIDIOC_QUERYCTRL (with V4L2_CTRL_FLAG_NEXT_CTRL enumeration). */
  queryctrl(q: v4l2_queryctrl): void {
    let c: V4l2Ctrl | undefined;
    if (q.id & V4L2_CTRL_FLAG_NEXT_CTRL) {
      const after = (q.id & ~V4L2_CTRL_FLAG_NEXT_CTRL) >>> 0;
      c = [...this.ctrls.values()].filter((x) => x.id > after).sort((a, b) => a.id - b.id)[0];
      if (!c) throw new Errno("EINVAL", "VIDIOC_QUERYCTRL", "no more controls");
    } else c = this.lookup(q.id, "VIDIOC_QUERYCTRL");
    Object.assign(q, { id: c.id, type: c.type, name: c.name, minimum: c.min, maximum: c.max, step: c.step, default_value: c.def, flags: c.flags });
  }

  /** VIDIOC_QUERYMENU */
  querymenu(m: v4l2_querymenu): void {
    const c = this.lookup(m.id, "VIDIOC_QUERYMENU");
    check(c.type === V4L2_CTRL_TYPE_MENU && c.menu && m.index >= c.min && m.index <= c.max, "EINVAL", "VIDIOC_QUERYMENU", `no menu item ${m.index}`);
    m.name = c.menu![m.index]!;
  }

  /** VIDIOC_G_CTRL */
  gCtrl(ctrl: v4l2_control): void {
    ctrl.value = this.lookup(ctrl.id, "VIDIOC_G_CTRL").cur;
  }

  /** VIDIOC_S_CTRL: returns the value actually set in `ctrl.value`. */
  sCtrl(ctrl: v4l2_control): void {
    const c = this.lookup(ctrl.id, "VIDIOC_S_CTRL");
    check(!(c.flags! & V4L2_CTRL_FLAG_READ_ONLY), "EACCES", "VIDIOC_S_CTRL", `control "${c.name}" is read-only`);
    const v = this.validate(c, ctrl.value, "VIDIOC_S_CTRL");
    c.set?.(v);
    c.cur = ctrl.value = v;
  }

  /** VIDIOC_G/S/TRY_EXT_CTRLS: all-or-nothing; `error_idx` names the failing control. */
  extCtrls(cs: v4l2_ext_controls, mode: "get" | "set" | "try"): void {
    const call = mode === "get" ? "VIDIOC_G_EXT_CTRLS" : mode === "set" ? "VIDIOC_S_EXT_CTRLS" : "VIDIOC_TRY_EXT_CTRLS";
    check(cs.controls.length >= cs.count, "EINVAL", call, "count exceeds the controls array");
    const list = cs.controls.slice(0, cs.count);
    const values: number[] = [];
    for (const [i, x] of list.entries()) {
      cs.error_idx = i;
      const c = this.lookup(x.id, call);
      if (mode === "get") values.push(cs.which === V4L2_CTRL_WHICH_DEF_VAL ? c.def : c.cur);
      else {
        check(cs.which === V4L2_CTRL_WHICH_CUR_VAL, "EINVAL", call, "only V4L2_CTRL_WHICH_CUR_VAL can be set");
        check(!(c.flags! & V4L2_CTRL_FLAG_READ_ONLY), "EACCES", call, `control "${c.name}" is read-only`);
        values.push(this.validate(c, x.value ?? 0, call));
      }
    }
    cs.error_idx = cs.count;
    for (const [i, x] of list.entries()) {
      x.value = values[i]!;
      if (mode !== "set") continue;
      const c = this.ctrls.get(x.id)!;
      c.set?.(values[i]!);
      c.cur = values[i]!;
    }
  }
}
