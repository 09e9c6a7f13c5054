/**
 * The few protobuf writers the ONNX rewriters need (wire format only; no schema).
 *
 * @module
 */
const encoder = new TextEncoder();

function varint(value: number): number[] {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

/** A varint field. */
export function varintField(number: number, value: number): Uint8Array {
  return Uint8Array.from([...varint(number * 8), ...varint(value)]);
}

/** A length-delimited field. */
export function lengthField(number: number, payload: Uint8Array): Uint8Array {
  return message([Uint8Array.from([...varint(number * 8 + 2), ...varint(payload.length)]), payload]);
}

/** A string field. */
export function stringField(number: number, value: string): Uint8Array {
  return lengthField(number, encoder.encode(value));
}

/** The concatenation of `parts`: a message of those fields. */
export function message(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
