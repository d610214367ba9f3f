const enc = new TextEncoder();
const DIGITS = "0123456789abcdef";

/**
 * The output buffer of a seq_file show() (struct seq_file's buf): text appended as UTF-8 bytes.
 * For debugfs files with a line per object, where 100,000 lines built as strings cost more in
 * garbage than in formatting.
 */
export class SeqBuf {
  private buf = new Uint8Array(1 << 16);
  private len = 0;

  /** seq_puts() */
  puts(s: string): this {
    this.reserve(3 * s.length);
    let i = 0;
    // ASCII byte by byte; from the first other character on, the encoder.
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      this.buf[this.len++] = c;
    }
    if (i < s.length) this.len += enc.encodeInto(s.slice(i), this.buf.subarray(this.len)).written;
    return this;
  }

  /** seq_printf("%0<width>lu") (radix 10) or ("%0<width>lx") (radix 16) of a non-negative integer. */
  num(n: number, width: number, radix: 10 | 16 = 10): this {
    if (!(n >= 0 && Number.isSafeInteger(n))) return this.puts(n.toString(radix).padStart(width, "0"));
    let digits = 1;
    for (let v = n; v >= radix; v = Math.floor(v / radix)) digits++;
    const w = Math.max(width, digits);
    this.reserve(w);
    for (let at = this.len + w - 1, v = n; at >= this.len; at--, v = Math.floor(v / radix)) this.buf[at] = DIGITS.charCodeAt(v % radix);
    this.len += w;
    return this;
  }

  /** The text so far (a view, no copy). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(2 * this.buf.length, this.len + n));
    b.set(this.buf.subarray(0, this.len));
    this.buf = b;
  }
}
