namespace SandboxRunner.Policy;

/// <summary>What a <c>sed</c> command's script does beyond editing text.</summary>
/// <param name="Unjudgeable">Why it may run a command (the <c>e</c> command or flag, a script read from a file, a script the audit cannot read), or null.</param>
/// <param name="Writes">Whether it writes a file its script names (<c>w</c>, <c>W</c>, the <c>s///w</c> flag): outside the baseline.</param>
internal sealed record SedFindings(string? Unjudgeable, bool Writes);

/// <summary>
/// Reads GNU sed's command line and script far enough to find the commands that run a program (<c>e</c>, and
/// <c>s///e</c>) or write a file (<c>w</c>, <c>W</c>, <c>s///w</c>). A script it cannot read is unjudgeable, never
/// passed: a misread would hide an <c>e</c>.
/// </summary>
internal static class SedScript
{
    private static readonly HashSet<string> Flags = new(StringComparer.Ordinal)
    {
        "null-data", "zero-terminated", "quiet", "silent", "regexp-extended", "separate", "unbuffered", "binary", "posix", "debug",
        "sandbox", "follow-symlinks", "help", "version",
    };

    /// <param name="command">The words, with the lexer's marks (<see cref="ShellLexer.Unknown"/>) or without.</param>
    public static SedFindings Examine(IReadOnlyList<string> marked)
    {
        if (ScriptWords(marked).Any(ShellLexer.HasUnknown))
        {
            return new SedFindings("sed's script is filled in by bash (a variable, a command's output or a glob)", false);
        }

        var command = marked.Select(ShellLexer.Unmarked).ToList();
        var scripts = new List<string>();
        var operands = new List<string>();
        for (var i = 1; i < command.Count; i++)
        {
            var word = command[i];
            if (word == "--")
            {
                operands.AddRange(command.Skip(i + 1));
                break;
            }

            if (word.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = word.IndexOf('=', StringComparison.Ordinal);
                var name = eq < 0 ? word[2..] : word[2..eq];
                switch (name)
                {
                    case "expression":
                        scripts.Add(eq >= 0 ? word[(eq + 1)..] : i + 1 < command.Count ? command[++i] : "");
                        break;
                    case "file":
                        return new SedFindings("sed --file reads its script from a file the audit cannot see", false);
                    case "line-length":
                        i += eq < 0 ? 1 : 0;
                        break;
                    case "in-place":
                        break;
                    case var flag when Flags.Contains(flag) && eq < 0:
                        break;
                    default:
                        return new SedFindings($"sed option --{name} is not one the audit can read past", false);
                }

                continue;
            }

            if (word.Length < 2 || word[0] != '-')
            {
                operands.Add(word);
                continue;
            }

            for (var j = 1; j < word.Length; j++)
            {
                var c = word[j];
                if (c is 'n' or 'E' or 'r' or 's' or 'u' or 'z' or 'b')
                {
                    continue;
                }

                if (c == 'i')
                {
                    break; // the rest of the word is the backup suffix
                }

                if (c is 'e' or 'l')
                {
                    var value = j + 1 < word.Length ? word[(j + 1)..] : i + 1 < command.Count ? command[++i] : "";
                    if (c == 'e')
                    {
                        scripts.Add(value);
                    }

                    break;
                }

                return c == 'f'
                    ? new SedFindings("sed -f reads its script from a file the audit cannot see", false)
                    : new SedFindings($"sed option -{c} is not one the audit can read past", false);
            }
        }

        if (scripts.Count == 0 && operands.Count > 0)
        {
            scripts.Add(operands[0]);
        }

        var writes = false;
        foreach (var script in scripts)
        {
            var reader = new Reader(script);
            if (reader.Read() is { } reason)
            {
                return new SedFindings(reason, false);
            }

            writes |= reader.Writes;
        }

        return new SedFindings(null, writes);
    }

    /// <summary>The words that are scripts: each <c>-e</c>/<c>--expression</c> value, else the first operand.</summary>
    private static IEnumerable<string> ScriptWords(IReadOnlyList<string> command)
    {
        var found = false;
        for (var i = 1; i < command.Count; i++)
        {
            var word = ShellLexer.Unmarked(command[i]);
            if (word == "--")
            {
                if (!found && i + 1 < command.Count)
                {
                    yield return command[i + 1];
                }

                yield break;
            }

            if (word is "-e" or "--expression" && i + 1 < command.Count)
            {
                found = true;
                yield return command[++i];
            }
            else if (word.StartsWith("--expression=", StringComparison.Ordinal) || (word.StartsWith("-e", StringComparison.Ordinal) && !word.StartsWith("--", StringComparison.Ordinal)) || (word.StartsWith('-') && !word.StartsWith("--", StringComparison.Ordinal) && word.Contains('e', StringComparison.Ordinal)))
            {
                found = true;
                yield return command[i];
            }
            else if (!found && !word.StartsWith('-'))
            {
                found = true;
                yield return command[i];
            }
        }
    }

    /// <summary>One pass over a sed script, command by command, as GNU sed's compiler reads it.</summary>
    private sealed class Reader(string script)
    {
        private int _i;

        public bool Writes { get; private set; }

        /// <summary>Reads the whole script; returns why it may run a command, or null.</summary>
        public string? Read()
        {
            while (true)
            {
                SkipWhile(c => c is ' ' or '\t' or '\n' or ';');
                if (_i >= script.Length)
                {
                    return null;
                }

                if (!Address())
                {
                    return Unreadable();
                }

                SkipWhile(c => c is ' ' or '\t');
                if (Peek() == ',')
                {
                    _i++;
                    SkipWhile(c => c is ' ' or '\t');
                    if (!(Peek() is '+' or '~' ? Number(skipSign: true) : Address()))
                    {
                        return Unreadable();
                    }
                }

                SkipWhile(c => c is ' ' or '\t' or '!');
                if (_i >= script.Length)
                {
                    return Unreadable();
                }

                var command = script[_i++];
                switch (command)
                {
                    case '{' or '}' or '=' or 'd' or 'D' or 'g' or 'G' or 'h' or 'H' or 'n' or 'N' or 'p' or 'P' or 'x' or 'z' or 'F':
                        break;
                    case 'l' or 'L' or 'q' or 'Q':
                        SkipWhile(c => c is ' ' or '\t');
                        Number(skipSign: false);
                        break;
                    case 'b' or 't' or 'T' or ':' or 'v':
                        // A label ends at whitespace here, earlier than sed may end it: what follows is then read as a command, never skipped.
                        SkipWhile(c => c is ' ' or '\t');
                        SkipWhile(c => c is not (';' or '\n' or ' ' or '\t' or '}'));
                        break;
                    case '#':
                        SkipWhile(c => c != '\n');
                        break;
                    case 'a' or 'i' or 'c':
                        Text();
                        break;
                    case 'r' or 'R':
                        SkipWhile(c => c != '\n');
                        break;
                    case 'w' or 'W':
                        Writes = true;
                        SkipWhile(c => c != '\n');
                        break;
                    case 'e':
                        return "sed's e command runs a command";
                    case 'y':
                        if (!Delimited(2))
                        {
                            return Unreadable();
                        }

                        break;
                    case 's':
                        if (!Delimited(2))
                        {
                            return Unreadable();
                        }

                        if (SubstituteFlags() is { } reason)
                        {
                            return reason;
                        }

                        break;
                    default:
                        return Unreadable();
                }
            }
        }

        private static string Unreadable() => "sed's script is not one the audit can read";

        private char? Peek() => _i < script.Length ? script[_i] : null;

        private void SkipWhile(Func<char, bool> predicate)
        {
            while (_i < script.Length && predicate(script[_i]))
            {
                _i++;
            }
        }

        /// <summary>An optional address: a line number (with <c>~step</c>), <c>$</c>, or a regex <c>/re/</c> or <c>\cREc</c> with its flags.</summary>
        private bool Address()
        {
            var c = Peek();
            if (c is >= '0' and <= '9')
            {
                Number(skipSign: false);
                if (Peek() == '~')
                {
                    _i++;
                    Number(skipSign: false);
                }

                return true;
            }

            if (c == '$')
            {
                _i++;
                return true;
            }

            if (c is '/' or '\\')
            {
                if (c == '\\')
                {
                    _i++;
                    if (_i >= script.Length || script[_i] is '\n' or '\\')
                    {
                        return false;
                    }
                }

                var delimiter = script[_i++];
                if (!Part(delimiter))
                {
                    return false;
                }

                SkipWhile(f => f is 'I' or 'M');
            }

            return true;
        }

        private bool Number(bool skipSign)
        {
            if (skipSign)
            {
                _i++;
            }

            var start = _i;
            SkipWhile(char.IsAsciiDigit);
            return _i > start;
        }

        /// <summary>Reads <paramref name="parts"/> parts closed by the delimiter that stands at the current position.</summary>
        private bool Delimited(int parts)
        {
            if (_i >= script.Length || script[_i] is '\n' or '\\')
            {
                return false;
            }

            var delimiter = script[_i++];
            for (var part = 0; part < parts; part++)
            {
                if (!Part(delimiter))
                {
                    return false;
                }
            }

            return true;
        }

        /// <summary>Reads up to and past the next unescaped <paramref name="delimiter"/>.</summary>
        private bool Part(char delimiter)
        {
            for (; _i < script.Length; _i++)
            {
                if (script[_i] == '\\')
                {
                    _i++;
                }
                else if (script[_i] == delimiter)
                {
                    _i++;
                    return true;
                }
            }

            return false;
        }

        /// <summary>The flags after <c>s/re/text/</c>: <c>e</c> runs the pattern space as a command, <c>w FILE</c> writes one.</summary>
        private string? SubstituteFlags()
        {
            while (_i < script.Length)
            {
                var c = script[_i];
                if (c is 'g' or 'p' or 'i' or 'I' or 'm' or 'M' || char.IsAsciiDigit(c))
                {
                    _i++;
                }
                else if (c == 'e')
                {
                    return "sed's s///e flag runs a command";
                }
                else if (c == 'w')
                {
                    Writes = true;
                    SkipWhile(x => x != '\n');
                }
                else
                {
                    break;
                }
            }

            return null;
        }

        /// <summary>The text of <c>a</c>, <c>i</c>, <c>c</c>: to the end of the line, continued past lines ending in a backslash.</summary>
        private void Text()
        {
            SkipWhile(c => c is ' ' or '\t');
            if (Peek() == '\\')
            {
                _i++;
                if (Peek() == '\n')
                {
                    _i++;
                }
            }

            for (; _i < script.Length && script[_i] != '\n'; _i++)
            {
                if (script[_i] == '\\')
                {
                    _i++;
                }
            }
        }
    }
}
