namespace SandboxRunner.Policy;

/// <summary>
/// Reads an <c>awk</c> command line (POSIX awk, gawk, mawk) far enough to find a program that starts another:
/// <c>system()</c>, a pipe to or from a command (<c>print | "cmd"</c>, <c>"cmd" | getline</c>, gawk's <c>|&amp;</c>),
/// gawk's <c>@</c> directives and indirect calls, and options that load code the audit cannot see (<c>-f</c>,
/// <c>-E</c>, <c>-i</c>, <c>-l</c>, mawk's <c>-W</c>). Where it is unsure whether a <c>/</c> opens a regex, it reads it as
/// division, so a <c>|</c> behind it is seen, never hidden.
/// </summary>
internal static class AwkProgram
{
    private static readonly HashSet<string> ValueOptions = new(StringComparer.Ordinal) { "field-separator", "assign" };

    private static readonly HashSet<string> FlagOptions = new(StringComparer.Ordinal)
    {
        "characters-as-bytes", "traditional", "copyright", "dump-variables", "debug", "gen-pot", "help", "lint", "bignum", "use-lc-numeric",
        "non-decimal-data", "optimize", "pretty-print", "profile", "posix", "re-interval", "no-optimize", "sandbox", "lint-old", "version", "csv",
    };

    private const string Filled = "awk's program is filled in by bash (a variable, a command's output or a glob)";

    /// <summary>Keywords after which an operand stands, so a <c>/</c> there opens a regex.</summary>
    private static readonly HashSet<string> OperandKeywords = new(StringComparer.Ordinal) { "print", "printf", "return", "case", "do", "else" };

    /// <summary>Why the command may run a program the audit cannot see, or null.</summary>
    public static string? Examine(IReadOnlyList<string> command) => Read(command).Reason;

    /// <summary>
    /// Where awk stops reading options: its program's index (awk takes nothing after the program for an option), or
    /// past the end. Options whose value is the next word are skipped with it.
    /// </summary>
    public static int ProgramIndex(IReadOnlyList<string> command)
    {
        for (var i = 1; i < command.Count; i++)
        {
            var word = ShellLexer.Unmarked(command[i]);
            if (word == "--")
            {
                return i + 1;
            }

            if (!word.StartsWith('-') || word.Length < 2)
            {
                return i;
            }

            if (word is "-F" or "-v" or "-f" or "-e" or "-E" or "-i" or "-l" or "-W" or "--source" or "--field-separator" or "--assign" or "--file" or "--exec" or "--include" or "--load")
            {
                i++;
            }
        }

        return command.Count;
    }

    /// <summary>Whether the command's words give awk its program (so words appended after it are files and assignments).</summary>
    public static bool HasProgram(IReadOnlyList<string> command) => Read(command).HasProgram;

    private static (string? Reason, bool HasProgram) Read(IReadOnlyList<string> marked)
    {
        var command = marked.Select(ShellLexer.Unmarked).ToList();
        var programs = new List<string>();
        var i = 1;
        for (; i < command.Count; i++)
        {
            var word = command[i];
            if (word == "--")
            {
                i++;
                break;
            }

            if (word.Length < 2 || word[0] != '-')
            {
                break;
            }

            if (word.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = word.IndexOf('=', StringComparison.Ordinal);
                var name = eq < 0 ? word[2..] : word[2..eq];
                if (name == "source")
                {
                    if (ShellLexer.HasUnknown(marked[eq >= 0 ? i : Math.Min(i + 1, marked.Count - 1)]))
                    {
                        return (Filled, false);
                    }

                    programs.Add(eq >= 0 ? word[(eq + 1)..] : i + 1 < command.Count ? command[++i] : "");
                }
                else if (ValueOptions.Contains(name))
                {
                    i += eq < 0 ? 1 : 0;
                }
                else if (!FlagOptions.Contains(name))
                {
                    return (name is "file" or "exec" or "include" or "load"
                        ? $"awk --{name} runs a program from a file the audit cannot see"
                        : $"awk option --{name} is not one the audit can read past", false);
                }

                continue;
            }

            var c = word[1];
            switch (c)
            {
                case 'F' or 'v' or 'e':
                    if (c == 'e' && ShellLexer.HasUnknown(marked[word.Length > 2 ? i : Math.Min(i + 1, marked.Count - 1)]))
                    {
                        return (Filled, false);
                    }

                    var value = word.Length > 2 ? word[2..] : i + 1 < command.Count ? command[++i] : "";
                    if (c == 'e')
                    {
                        programs.Add(value);
                    }

                    break;
                case 'f' or 'E' or 'i' or 'l':
                    return ($"awk -{c} runs a program from a file the audit cannot see", false);
                case 'b' or 'c' or 'C' or 'd' or 'D' or 'g' or 'h' or 'L' or 'M' or 'n' or 'N' or 'o' or 'O' or 'p' or 'P' or 'r' or 's' or 'S' or 't' or 'V':
                    break;
                default:
                    return ($"awk option -{c} is not one the audit can read past", false);
            }
        }

        if (programs.Count == 0 && i < command.Count)
        {
            if (ShellLexer.HasUnknown(marked[i]))
            {
                return (Filled, false);
            }

            programs.Add(command[i]);
        }

        return (programs.Select(Launches).FirstOrDefault(reason => reason is not null), programs.Count > 0);
    }

    /// <summary>Why <paramref name="program"/> may start a program, or null.</summary>
    internal static string? Launches(string program)
    {
        var operand = true;
        for (var i = 0; i < program.Length; i++)
        {
            var c = program[i];
            switch (c)
            {
                case '#':
                    while (i + 1 < program.Length && program[i + 1] != '\n')
                    {
                        i++;
                    }

                    break;
                case '"':
                    i = Closing(program, i, '"');
                    operand = false;
                    break;
                case '/' when operand:
                    i = Closing(program, i, '/');
                    operand = false;
                    break;
                case '|' when i + 1 < program.Length && program[i + 1] == '|':
                    i++;
                    operand = true;
                    break;
                case '|':
                    return "awk's program pipes to or from a command (|)";
                case '@':
                    return "awk's program uses gawk's @ (directives, indirect calls)";
                case '\\':
                    i++;
                    break;
                case '+' or '-' when i + 1 < program.Length && program[i + 1] == c:
                    // x++ / 2 divides: after an increment the audit reads '/' as division, the reading that hides nothing.
                    i++;
                    operand = false;
                    break;
                case ' ' or '\t' or '\r':
                    break;
                case ')' or ']' or '$':
                    operand = c == '$';
                    break;
                default:
                    if (char.IsAsciiLetter(c) || c == '_')
                    {
                        var start = i;
                        while (i + 1 < program.Length && (char.IsAsciiLetterOrDigit(program[i + 1]) || program[i + 1] == '_'))
                        {
                            i++;
                        }

                        var name = program[start..(i + 1)];
                        if (name == "system")
                        {
                            return "awk's program calls system()";
                        }

                        operand = OperandKeywords.Contains(name);
                    }
                    else if (char.IsAsciiDigit(c) || c == '.')
                    {
                        operand = false;
                    }
                    else
                    {
                        operand = true;
                    }

                    break;
            }
        }

        return null;
    }

    /// <summary>The index of the unescaped <paramref name="quote"/> closing the literal that opens at <paramref name="open"/> (or the end).</summary>
    private static int Closing(string program, int open, char quote)
    {
        for (var i = open + 1; i < program.Length; i++)
        {
            if (program[i] == '\\')
            {
                i++;
            }
            else if (program[i] == quote || program[i] == '\n')
            {
                return i;
            }
        }

        return program.Length;
    }
}
