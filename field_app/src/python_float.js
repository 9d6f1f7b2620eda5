// Python's repr() of a float, which both the evaluator's texts (numbers shown with a verdict) and
// the canonical payload JSON (payload hashes the server recomputes) must reproduce exactly.

/** Python's repr() of a float, from the shortest decimal that round-trips (as Python's). */
export function pyFloatRepr(x) {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  const [mantissa, exponent] = x.toExponential().split("e");
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const point = Number(exponent) + 1; // digits before the decimal point
  let text;
  if (point > -4 && point <= 16) {
    if (point <= 0) text = `0.${"0".repeat(-point)}${digits}`;
    else if (point >= digits.length) text = `${digits}${"0".repeat(point - digits.length)}.0`;
    else text = `${digits.slice(0, point)}.${digits.slice(point)}`;
  } else {
    const e = point - 1;
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    text = `${mant}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
  }
  return (negative || Object.is(x, -0) ? "-" : "") + text;
}
