using System.Text;

namespace SandboxRunner.Policy;

internal static partial class ShellLexer
{
    /// <summary>Quoting: <c>"…"</c> (where bash still expands) and <c>$'…'</c> (decoded as bash does).</summary>
    internal sealed partial class Reader
    {
        /// <summary>Reads <c>"…"</c> from after its opening quote; returns the index of the closing quote, or <paramref name="end"/>.</summary>
        private int ReadDoubleQuoted(int i, int end, StringBuilder word, int depth, out int filledAt)
        {
            filledAt = -1;
            for (; i < end && Unjudgeable is null; i++)
            {
                var c = _script[i];
                if (c == '"')
                {
                    return i;
                }

                if (c == '\\' && i + 1 < end && _script[i + 1] is '"' or '\\' or '$' or '`')
                {
                    word.Append(_script[++i]);
                }
                else if (c == '$' && i + 1 < end && _script[i + 1] == '(')
                {
                    var substitutedAt = word.Length;
                    i = ReadDollarParen(i, end, depth, out var arithmetic);
                    filledAt = filledAt < 0 && !arithmetic ? substitutedAt : filledAt;
                    word.Append(arithmetic ? ArithmeticResult : Substituted);
                }
                else if (c == '`')
                {
                    filledAt = filledAt < 0 ? word.Length : filledAt;
                    i = ReadBackticks(i + 1, end, depth);
                    word.Append(Substituted);
                }
                else
                {
                    if (c == '$' && i + 1 < end && (char.IsAsciiLetterOrDigit(_script[i + 1]) || _script[i + 1] is '_' or '{' or '@' or '*' or '#' or '?' or '$' or '!' or '-'))
                    {
                        filledAt = filledAt < 0 ? word.Length : filledAt;
                    }

                    word.Append(c);
                }
            }

            return end;
        }

        /// <summary>Reads <c>$'…'</c>, decoding its backslash escapes as bash does; returns the index of the closing quote, or <paramref name="end"/>.</summary>
        private int ReadAnsiC(int i, int end, StringBuilder word)
        {
            for (; i < end; i++)
            {
                var c = _script[i];
                if (c == '\'')
                {
                    return i;
                }

                if (c != '\\' || i + 1 >= end)
                {
                    word.Append(c);
                    continue;
                }

                var e = _script[++i];
                switch (e)
                {
                    case 'n': word.Append('\n'); break;
                    case 't': word.Append('\t'); break;
                    case 'r': word.Append('\r'); break;
                    case 'a': word.Append('\a'); break;
                    case 'b': word.Append('\b'); break;
                    case 'e' or 'E': word.Append('\u001b'); break;
                    case 'f': word.Append('\f'); break;
                    case 'v': word.Append('\v'); break;
                    case 'x':
                        var hex = Digits(i + 1, end, 2, 16, out var code);
                        if (hex > 0)
                        {
                            word.Append((char)code);
                            i += hex;
                        }
                        else
                        {
                            word.Append("\\x");
                        }

                        break;
                    case >= '0' and <= '7':
                        var octal = Digits(i, end, 3, 8, out var value);
                        word.Append((char)value);
                        i += octal - 1;
                        break;
                    default:
                        word.Append(e);
                        break;
                }
            }

            return end;
        }

        /// <summary>How many digits of <paramref name="radix"/> (8 or 16, at most <paramref name="max"/>) stand at <paramref name="from"/>, and their value.</summary>
        private int Digits(int from, int end, int max, int radix, out int value)
        {
            value = 0;
            var count = 0;
            for (; count < max && from + count < end; count++)
            {
                var digit = _script[from + count] switch
                {
                    >= '0' and <= '9' and var d => d - '0',
                    >= 'a' and <= 'f' and var h => h - 'a' + 10,
                    >= 'A' and <= 'F' and var h => h - 'A' + 10,
                    _ => radix,
                };
                if (digit >= radix)
                {
                    break;
                }

                value = value * radix + digit;
            }

            return count;
        }
    }
}
