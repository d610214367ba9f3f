export const defineSuite = (s: any) => s;
export const below = (name: string, f: any, t: number, unit: string) => ({ name, evaluate: (m: any) => ({ value: f(m), unit, target: `< ${t}`, met: f(m) < t }) });
export const copyBaseline = (bytes: number) => ({ setup: () => ({ src: new Uint8Array(bytes).fill(7), dst: new Uint8Array(bytes) }), fn: ({ src, dst }: any) => dst.set(src) });
