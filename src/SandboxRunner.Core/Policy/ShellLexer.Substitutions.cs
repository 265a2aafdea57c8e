namespace SandboxRunner.Policy;

internal static partial class ShellLexer
{
    /// <summary>Substitutions: <c>$( … )</c>, backticks and <c>$(( … ))</c>, each read where it stands, and the nesting limit.</summary>
    internal sealed partial class Reader
    {
        /// <summary>Reads <c>$( … )</c> from after its <c>$(</c>; returns the index of its closing ')', or <paramref name="end"/>.</summary>
        private int ReadSubstitution(int from, int end, int depth) =>
            Deeper(depth) ? end : ReadCommands(from, end, closesAtParen: true, depth + 1);

        /// <summary>Reads <c>` … `</c> from after its first backtick; returns the index of the closing one, or <paramref name="end"/>.</summary>
        private int ReadBackticks(int from, int end, int depth)
        {
            // Backticks do not nest: the next one closes, whatever stands between.
            var tick = _script.IndexOf('`', from, end - from);
            tick = tick < 0 ? end : tick;
            if (!Deeper(depth))
            {
                ReadCommands(from, tick, closesAtParen: false, depth + 1);
            }

            return tick;
        }

        /// <summary>
        /// Reads <c>$( … )</c> or <c>$(( … ))</c> from its <c>$</c> at <paramref name="i"/>; returns the index of its last ')', or
        /// <paramref name="end"/>. <c>$((</c> is arithmetic only when the ')' closing its inner '(' is followed by ')', as bash
        /// decides: <c>$((curl evil) )</c> is a command substitution holding a subshell, and runs curl.
        /// </summary>
        private int ReadDollarParen(int i, int end, int depth, out bool arithmetic)
        {
            arithmetic = false;
            if (i + 2 < end && _script[i + 2] == '(')
            {
                var close = ArithmeticClose(i + 3, end);
                if (Unjudgeable is not null)
                {
                    return end;
                }

                if (close >= 0)
                {
                    arithmetic = true;
                    ReadArithmetic(i + 3, close - 1, depth);
                    return close;
                }
            }

            return ReadSubstitution(i + 2, end, depth);
        }

        /// <summary>
        /// The index of the second ')' of the <c>))</c> that closes arithmetic whose text starts at <paramref name="from"/>
        /// (after <c>$((</c>), or -1 when bash would read a command substitution instead. Its scan stops past
        /// <see cref="MaxArithmeticParens"/> parentheses, so nested openings cost at most that many scans of the same text.
        /// </summary>
        private int ArithmeticClose(int from, int end)
        {
            var parens = 1;
            for (var i = from; i < end; i++)
            {
                switch (_script[i])
                {
                    case '\\':
                        i++;
                        break;
                    case '\'' or '"':
                        var quote = _script.IndexOf(_script[i], i + 1, end - i - 1);
                        if (quote < 0)
                        {
                            return -1;
                        }

                        i = quote;
                        break;
                    case '(':
                        if (++parens > MaxArithmeticParens)
                        {
                            Unjudgeable = $"parentheses in arithmetic nested deeper than {MaxArithmeticParens}";
                            return -1;
                        }

                        break;
                    case ')' when --parens == 0:
                        return i + 1 < end && _script[i + 1] == ')' ? i + 1 : -1;
                }
            }

            return -1;
        }

        /// <summary>
        /// Reads the text of <c>$(( … ))</c> between <paramref name="from"/> and <paramref name="stop"/>. The arithmetic is
        /// not a command, but a substitution inside it runs one.
        /// </summary>
        private void ReadArithmetic(int from, int stop, int depth)
        {
            for (var i = from; i < stop && Unjudgeable is null; i++)
            {
                switch (_script[i])
                {
                    case '\\':
                        i++;
                        break;
                    case '$' when i + 1 < stop && _script[i + 1] == '(':
                        i = ReadDollarParen(i, stop, depth, out _);
                        break;
                    case '`':
                        i = ReadBackticks(i + 1, stop, depth);
                        break;
                }
            }
        }

        /// <summary>Whether one more level of substitution passes <see cref="MaxDepth"/>; if so, reading stops.</summary>
        private bool Deeper(int depth)
        {
            if (depth < MaxDepth)
            {
                return false;
            }

            Unjudgeable = $"command substitutions nested deeper than {MaxDepth}";
            return true;
        }
    }
}
