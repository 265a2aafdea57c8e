using System.Text;

namespace SandboxRunner.Policy;

/// <summary>
/// Reads the command lines Codex reports (<c>/bin/bash -lc '…'</c>) well enough to audit them: unwraps
/// shell wrappers, splits compound commands at <c>&amp;&amp; || ; | &amp;</c>, newlines, subshells and
/// command substitutions, removes quotes and redirections, and sets variable assignments aside to be judged
/// apart. It is an auditor's reader, not a shell: anything it cannot place becomes a command of its own, to be
/// judged, and a wrapper option it cannot read past makes the whole line unjudgeable.
/// </summary>
public static class ShellCommand
{
    /// <summary>Shells, by program name: their <c>-c</c> script is audited instead of them.</summary>
    private static readonly HashSet<string> Shells = new(StringComparer.Ordinal) { "bash", "sh", "zsh", "dash", "ksh", "ash", "mksh" };

    /// <summary>
    /// Where a program named by path is still taken for the program of that name. Anywhere else the file may be
    /// one the agent wrote or linked itself (<c>/tmp/npm</c> a link to bash), so it is no program the audit knows.
    /// </summary>
    private static readonly string[] SystemDirectories = ["/usr/bin/", "/bin/", "/usr/local/bin/", "/usr/sbin/", "/sbin/"];

    /// <summary>
    /// Programs that run another command: the command they run is what gets judged. Each lists only the options
    /// whose arguments are known and that name no command of their own, in getopt's notation (<c>x:</c> takes a
    /// value, <c>x::</c> an attached optional one; <c>name=</c> and <c>name[=]</c> likewise). Any other option
    /// could hide a command (<c>env -S</c>, <c>xargs -I</c>, <c>sudo -s</c>) or the program it runs
    /// (<c>sudo -R</c>), so a command using one cannot be audited.
    /// </summary>
    private static readonly Dictionary<string, Syntax> Wrappers = new(StringComparer.Ordinal)
    {
        // -C/--chdir is left out on purpose: it is a cd the audit would not see, so env -C DIR … is unjudgeable.
        ["env"] = new("iu:0v", ["ignore-environment", "unset=", "null", "debug"], Assigns: true),
        ["command"] = new("pvV", []),
        ["builtin"] = new("", []),
        ["exec"] = new("cla:", []),
        ["nohup"] = new("", []),
        ["nice"] = new("n:", ["adjustment="], NumberOptions: true),
        ["timeout"] = new("fk:ps:v", ["foreground", "kill-after=", "preserve-status", "signal=", "verbose"], Operand: Operand.Any),
        ["stdbuf"] = new("i:o:e:", ["input=", "output=", "error="]),
        ["setsid"] = new("cfw", ["ctty", "fork", "wait"]),
        ["chrt"] = new(
            "abdfioRrvT:P:D:",
            ["all-tasks", "batch", "deadline", "fifo", "idle", "other", "reset-on-fork", "rr", "verbose", "sched-runtime=", "sched-period=", "sched-deadline="],
            Operand: Operand.Number),
        ["ionice"] = new("tc:n:", ["ignore", "class=", "classdata="]),
        ["sudo"] = new(
            "AbBEHkNnPSa:C:c:D:g:p:r:t:T:u:",
            [
                "askpass", "background", "bell", "preserve-env[=]", "set-home", "reset-timestamp", "no-update", "non-interactive", "preserve-groups", "stdin",
                "auth-type=", "close-from=", "login-class=", "chdir=", "group=", "prompt=", "role=", "type=", "command-timeout=", "user=",
            ],
            Assigns: true),
        ["doas"] = new("na:u:", []),
        ["xargs"] = new(
            "0a:d:E:e::L:l::n:opP:rs:tx",
            ["null", "arg-file=", "delimiter=", "eof[=]", "max-lines[=]", "max-args=", "open-tty", "interactive", "max-procs=", "no-run-if-empty", "max-chars=", "show-limits", "verbose", "exit"]),
        ["time"] = new("apqvf:o:", ["append", "portability", "quiet", "verbose", "format=", "output="]),
    };

    /// <summary>The placeholder a substitution leaves in a word: not shell syntax, so a re-parse cannot mistake it for a command.</summary>
    private const char Substituted = '…';
    private static readonly HashSet<string> Keywords = new(StringComparer.Ordinal) { "if", "then", "else", "elif", "fi", "for", "do", "done", "while", "until", "case", "esac", "{", "}", "!", "time", "exec" };

    /// <summary>
    /// Longest command line read. Reading is linear, so this only bounds one line's cost; it leaves room for a
    /// heredoc and for quoting, which grows fourfold with each level of <c>bash -c '…'</c> (ten levels take 88 KiB).
    /// </summary>
    public const int MaxLength = 128 * 1024;

    /// <summary>Deepest nesting of command substitutions read; each level costs a stack frame.</summary>
    public const int MaxDepth = 32;

    /// <summary>Reads <paramref name="command"/>: its simple commands, or why it cannot be audited.</summary>
    public static ParsedCommand Parse(string command)
    {
        if (command.Length > MaxLength)
        {
            return ParsedCommand.CannotBeAudited($"longer than {MaxLength} characters ({command.Length})");
        }

        var result = new List<IReadOnlyList<string>>();
        var assignments = new List<Assignment>();
        return Collect(command, result, assignments, depth: 0) is { } reason
            ? ParsedCommand.CannotBeAudited(reason)
            : new ParsedCommand(result, null, assignments);
    }

    /// <summary>
    /// The program <paramref name="word"/> runs, when the audit can tell: a bare name, or a name in one of the
    /// <see cref="SystemDirectories"/>. Null for any other path.
    /// </summary>
    internal static string? ProgramName(string word)
    {
        if (!word.Contains('/', StringComparison.Ordinal))
        {
            return word;
        }

        var slash = word.LastIndexOf('/') + 1;
        return slash < word.Length && SystemDirectories.Contains(word[..slash], StringComparer.Ordinal) ? word[slash..] : null;
    }

    /// <summary>
    /// The simple commands in <paramref name="command"/>, each as its words, wrappers unwrapped. Empty for a
    /// command that cannot be audited, so anything that judges commands must use <see cref="Parse"/>.
    /// </summary>
    internal static IReadOnlyList<IReadOnlyList<string>> SimpleCommands(string command) => Parse(command).SimpleCommands;

    /// <summary>
    /// Adds the commands of <paramref name="script"/> to <paramref name="result"/> and the variables set for them to
    /// <paramref name="assignments"/>; returns why it cannot be audited, or null.
    /// </summary>
    private static string? Collect(string script, List<IReadOnlyList<string>> result, List<Assignment> assignments, int depth)
    {
        var reader = new Reader(script);
        var commands = reader.ReadAll();
        if (reader.Unjudgeable is { } reason)
        {
            return reason;
        }

        foreach (var words in commands)
        {
            var assigned = new List<string>();
            if (StripWrappers(StripPrefix(words, assigned), assigned, out var command) is { } wrapperReason)
            {
                return wrapperReason;
            }

            assignments.AddRange(assigned.Select(a => new Assignment(a[..a.IndexOf('=', StringComparison.Ordinal)], words)));
            if (command.Count == 0)
            {
                continue;
            }

            if (depth < 8 && ProgramName(command[0]) is { } name && Shells.Contains(name) && ScriptArgument(command) is { } inner)
            {
                if (Collect(inner, result, assignments, depth + 1) is { } innerReason)
                {
                    return innerReason;
                }

                continue;
            }

            result.Add(command);
        }

        return null;
    }

    /// <summary>The script of <c>bash -c SCRIPT</c>, <c>bash -lc SCRIPT</c> and the like.</summary>
    private static string? ScriptArgument(List<string> command)
    {
        for (var i = 1; i < command.Count - 1; i++)
        {
            var word = command[i];
            if (!word.StartsWith('-'))
            {
                return null;
            }

            if (!word.StartsWith("--", StringComparison.Ordinal) && word.Contains('c', StringComparison.Ordinal))
            {
                return command[i + 1];
            }
        }

        return null;
    }

    /// <summary>Drops leading keywords and assignments, adding the assignments to <paramref name="assigned"/>.</summary>
    private static List<string> StripPrefix(List<string> words, List<string> assigned)
    {
        var start = 0;
        for (; start < words.Count && (Keywords.Contains(words[start]) || IsAssignment(words[start])); start++)
        {
            if (IsAssignment(words[start]))
            {
                assigned.Add(words[start]);
            }
        }

        return words[start..];
    }

    /// <summary>
    /// Drops <c>env FOO=1 nice -n 5 timeout 10</c> and the like from the front of a command, adding the variables
    /// they set to <paramref name="assigned"/>; returns why a wrapper cannot be read past, or null.
    /// </summary>
    private static string? StripWrappers(List<string> words, List<string> assigned, out List<string> command)
    {
        command = words;
        for (var guard = 0; guard < 8 && command.Count > 0 && ProgramName(command[0]) is { } wrapper && Wrappers.TryGetValue(wrapper, out var syntax); guard++)
        {
            if (SkipOptions(wrapper, syntax, command, out var i) is { } reason)
            {
                return reason;
            }

            if (syntax.Operand != Operand.None && i < command.Count)
            {
                // chrt's priority: were it no number, some versions would take it for the command.
                if (syntax.Operand == Operand.Number && (command[i].Length == 0 || !command[i].All(char.IsAsciiDigit)))
                {
                    return $"{wrapper} is given '{command[i]}' where its priority stands";
                }

                i++;
            }

            for (; syntax.Assigns && i < command.Count && command[i].IndexOf('=', StringComparison.Ordinal) > 0; i++)
            {
                assigned.Add(command[i]);
            }

            command = i < command.Count ? command[i..] : [];
        }

        return null;
    }

    /// <summary>
    /// Reads a wrapper's options as getopt does, stopping at the first word that is none; <paramref name="next"/> is
    /// that word's index. Returns why an option cannot be read past, or null.
    /// </summary>
    private static string? SkipOptions(string wrapper, Syntax syntax, List<string> words, out int next)
    {
        for (next = 1; next < words.Count; next++)
        {
            var word = words[next];
            if (word == "--")
            {
                next++;
                return null;
            }

            if (word.Length < 2 || word[0] != '-')
            {
                return null;
            }

            if (syntax.NumberOptions && char.IsAsciiDigit(word[word[1] is '-' or '+' && word.Length > 2 ? 2 : 1]))
            {
                continue; // nice's old -5 for -n 5
            }

            if (word.StartsWith("--", StringComparison.Ordinal))
            {
                var eq = word.IndexOf('=', StringComparison.Ordinal);
                var name = eq < 0 ? word[2..] : word[2..eq];
                if (syntax.Long.Contains(name + "="))
                {
                    next += eq < 0 ? 1 : 0;
                }
                else if (!syntax.Long.Contains(name + "[=]") && !(eq < 0 && syntax.Long.Contains(name)))
                {
                    // getopt also takes an abbreviation (--split for --split-string): unknown here, so refused too.
                    return $"{wrapper} option --{name} is not one the audit can read past";
                }

                continue;
            }

            for (var j = 1; j < word.Length; j++)
            {
                var at = word[j] == ':' ? -1 : syntax.Short.IndexOf(word[j], StringComparison.Ordinal);
                if (at < 0)
                {
                    return $"{wrapper} option -{word[j]} is not one the audit can read past";
                }

                if (at + 1 < syntax.Short.Length && syntax.Short[at + 1] == ':')
                {
                    // The value is the rest of the word, or else the next word unless it is optional.
                    var optional = at + 2 < syntax.Short.Length && syntax.Short[at + 2] == ':';
                    next += j + 1 == word.Length && !optional ? 1 : 0;
                    break;
                }
            }
        }

        return null;
    }

    private static bool IsAssignment(string word)
    {
        var eq = word.IndexOf('=', StringComparison.Ordinal);
        return eq > 0 && word[..eq].All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && !char.IsAsciiDigit(word[0]);
    }

    /// <summary>A wrapper's command line, in getopt's terms (see <see cref="Wrappers"/>).</summary>
    /// <param name="Short">Short options: a letter, then ':' if it takes a value, '::' if only an attached one.</param>
    /// <param name="Long">Long options: a name, then '=' if it takes a value, '[=]' if only an attached one.</param>
    /// <param name="NumberOptions">Whether <c>-N</c> is an option (nice's adjustment).</param>
    /// <param name="Operand">A word between the options and the command (timeout's duration, chrt's priority).</param>
    /// <param name="Assigns">Whether <c>NAME=value</c> words before the command set its environment.</param>
    private sealed record Syntax(string Short, string[] Long, bool NumberOptions = false, Operand Operand = Operand.None, bool Assigns = false);

    private enum Operand
    {
        None,
        Any,
        Number,
    }

    /// <summary>
    /// Splits a script into simple commands' words at every operator. Past <see cref="MaxDepth"/> it stops and
    /// returns what it read: good enough for the prefixes a config names, never for judging what an agent ran.
    /// </summary>
    internal static List<List<string>> Split(string script) => new Reader(script).ReadAll();

    /// <summary>
    /// One pass over a script. A substitution is read where it stands, by a nested call bounded by its end,
    /// never copied out and read again: a copy per nesting level made deep nesting cost quadratic time.
    /// </summary>
    private sealed class Reader(string script)
    {
        private readonly List<List<string>> _commands = [];

        /// <summary>Why reading stopped early, or null. Every loop checks it, so a limit unwinds every level at once.</summary>
        public string? Unjudgeable { get; private set; }

        public List<List<string>> ReadAll()
        {
            ReadCommands(0, script.Length, closesAtParen: false, depth: 0);
            return _commands;
        }

        /// <summary>
        /// Reads commands from <paramref name="i"/> up to <paramref name="end"/> or, inside <c>$(…)</c>, up to the
        /// unmatched ')' that closes it; returns that ')' index, or <paramref name="end"/>.
        /// </summary>
        private int ReadCommands(int i, int end, bool closesAtParen, int depth)
        {
            var words = new List<string>();
            var word = new StringBuilder();
            var inWord = false;
            var skipNextWord = false;
            var parens = 0;

            // bash takes a word for an assignment only when its name and '=' are unquoted and unexpanded:
            // 'CI=1' npm test runs a program named CI=1. Such a word where an assignment would stand is refused.
            var hereDocuments = new List<PendingHereDocument>();
            var leading = true;
            var sawEquals = false;
            var quotedEarly = false;

            void Quoting() => quotedEarly |= !sawEquals;

            void EndWord()
            {
                if (inWord)
                {
                    if (!skipNextWord)
                    {
                        var text = word.ToString();
                        if (leading && quotedEarly && IsAssignment(text))
                        {
                            Unjudgeable = $"'{text}' is quoted like an assignment where bash runs it as a program";
                        }

                        leading &= Keywords.Contains(text) || IsAssignment(text);
                        words.Add(text);
                    }

                    skipNextWord = false;
                }

                word.Clear();
                inWord = false;
                sawEquals = false;
                quotedEarly = false;
            }

            void EndCommand()
            {
                EndWord();
                if (words.Count > 0)
                {
                    _commands.Add(words);
                }

                words = [];
                skipNextWord = false;
                leading = true;
            }

            for (; i < end && Unjudgeable is null; i++)
            {
                var c = script[i];
                switch (c)
                {
                    case '\\' when i + 1 < end:
                        Quoting();
                        if (script[i + 1] != '\n')
                        {
                            word.Append(script[i + 1]);
                            inWord = true;
                        }

                        i++;
                        break;
                    case '\'':
                        Quoting();
                        var quote = script.IndexOf('\'', i + 1, end - i - 1);
                        quote = quote < 0 ? end : quote;
                        word.Append(script, i + 1, quote - i - 1);
                        inWord = true;
                        i = quote;
                        break;
                    case '"':
                        Quoting();
                        i = ReadDoubleQuoted(i + 1, end, word, depth);
                        inWord = true;
                        break;
                    case '$' when i + 1 < end && script[i + 1] == '\'':
                        Quoting();
                        i = ReadAnsiC(i + 2, end, word);
                        inWord = true;
                        break;
                    case '$' when i + 2 < end && script[i + 1] == '(' && script[i + 2] == '(':
                        Quoting();
                        i = ReadArithmetic(i + 3, end, depth);
                        word.Append(Substituted);
                        inWord = true;
                        break;
                    case '$' when i + 1 < end && script[i + 1] == '(':
                        // $( ... ) runs a command of its own: audit it as one.
                        Quoting();
                        i = ReadSubstitution(i + 2, end, depth);
                        word.Append(Substituted);
                        inWord = true;
                        break;
                    case '`':
                        Quoting();
                        i = ReadBackticks(i + 1, end, depth);
                        word.Append(Substituted);
                        inWord = true;
                        break;
                    case ';' or '&' or '|' or '\n' or '(' or ')':
                        if (c == '&' && i > 0 && script[i - 1] == '>')
                        {
                            break;
                        }

                        // Inside $( ... ) a subshell's parentheses pair up; only an unmatched ')' ends the substitution.
                        if (closesAtParen && c == '(')
                        {
                            parens++;
                        }
                        else if (closesAtParen && c == ')' && parens-- == 0)
                        {
                            EndCommand();
                            return i;
                        }

                        EndCommand();
                        if (c == '\n' && hereDocuments.Count > 0)
                        {
                            i = HereDocuments.SkipBodies(script, i, end, hereDocuments, out var bodyReason);
                            Unjudgeable ??= bodyReason;
                        }

                        break;
                    case '<' when i + 1 < end && script[i + 1] == '<' && (i + 2 >= end || script[i + 2] != '<'):
                        EndWord();
                        i = HereDocuments.ReadOperator(script, i, end, hereDocuments, out var operatorReason);
                        Unjudgeable ??= operatorReason;
                        break;
                    case '>' or '<':
                        // A redirection's target is not a word of the command.
                        EndWord();
                        while (i + 1 < end && script[i + 1] is '>' or '&' or '|')
                        {
                            i++;
                        }

                        if (i + 1 < end && char.IsAsciiDigit(script[i + 1]))
                        {
                            i++;
                        }
                        else
                        {
                            skipNextWord = true;
                        }

                        break;
                    case ' ' or '\t' or '\r':
                        EndWord();
                        break;
                    case '#' when !inWord:
                        var newline = script.IndexOf('\n', i, end - i);
                        i = (newline < 0 ? end : newline) - 1;
                        break;
                    default:
                        if (char.IsAsciiDigit(c) && !inWord && i + 1 < end && script[i + 1] is '>' or '<')
                        {
                            break;
                        }

                        sawEquals |= c == '=';
                        word.Append(c);
                        inWord = true;
                        break;
                }
            }

            EndCommand();
            return end;
        }

        /// <summary>Reads <c>$( … )</c> from after its <c>$(</c>; returns the index of its closing ')', or <paramref name="end"/>.</summary>
        private int ReadSubstitution(int from, int end, int depth) =>
            Deeper(depth) ? end : ReadCommands(from, end, closesAtParen: true, depth + 1);

        /// <summary>Reads <c>` … `</c> from after its first backtick; returns the index of the closing one, or <paramref name="end"/>.</summary>
        private int ReadBackticks(int from, int end, int depth)
        {
            // Backticks do not nest: the next one closes, whatever stands between.
            var tick = script.IndexOf('`', from, end - from);
            tick = tick < 0 ? end : tick;
            if (!Deeper(depth))
            {
                ReadCommands(from, tick, closesAtParen: false, depth + 1);
            }

            return tick;
        }

        /// <summary>
        /// Reads <c>$(( … ))</c> from after its <c>$((</c>; returns the index of its last ')', or <paramref name="end"/>.
        /// The arithmetic is not a command, but a substitution inside it runs one.
        /// </summary>
        private int ReadArithmetic(int from, int end, int depth)
        {
            var close = script.IndexOf("))", from, end - from, StringComparison.Ordinal);
            var stop = close < 0 ? end : close;
            for (var i = from; i < stop && Unjudgeable is null; i++)
            {
                switch (script[i])
                {
                    case '\\':
                        i++;
                        break;
                    case '$' when i + 1 < stop && script[i + 1] == '(' && (i + 2 >= stop || script[i + 2] != '('):
                        i = ReadSubstitution(i + 2, stop, depth);
                        break;
                    case '`':
                        i = ReadBackticks(i + 1, stop, depth);
                        break;
                }
            }

            return close < 0 ? end : close + 1;
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

        /// <summary>Reads <c>"…"</c> from after its opening quote; returns the index of the closing quote, or <paramref name="end"/>.</summary>
        private int ReadDoubleQuoted(int i, int end, StringBuilder word, int depth)
        {
            for (; i < end && Unjudgeable is null; i++)
            {
                var c = script[i];
                if (c == '"')
                {
                    return i;
                }

                if (c == '\\' && i + 1 < end && script[i + 1] is '"' or '\\' or '$' or '`')
                {
                    word.Append(script[++i]);
                }
                else if (c == '$' && i + 2 < end && script[i + 1] == '(' && script[i + 2] == '(')
                {
                    i = ReadArithmetic(i + 3, end, depth);
                    word.Append(Substituted);
                }
                else if (c == '$' && i + 1 < end && script[i + 1] == '(')
                {
                    i = ReadSubstitution(i + 2, end, depth);
                    word.Append(Substituted);
                }
                else if (c == '`')
                {
                    i = ReadBackticks(i + 1, end, depth);
                    word.Append(Substituted);
                }
                else
                {
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
                var c = script[i];
                if (c == '\'')
                {
                    return i;
                }

                if (c != '\\' || i + 1 >= end)
                {
                    word.Append(c);
                    continue;
                }

                var e = script[++i];
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
                var digit = script[from + count] switch
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

/// <summary>What <see cref="ShellCommand.Parse"/> read out of one command line.</summary>
/// <param name="SimpleCommands">Each simple command as its words, wrappers unwrapped; empty when <paramref name="Unjudgeable"/> is set.</param>
/// <param name="Unjudgeable">Why the command line cannot be audited, or null when it can: a reason to refuse it, never to pass it.</param>
/// <param name="Assignments">Every variable set for a command (<c>FOO=1 cmd</c>, a lone <c>FOO=1</c>, <c>env FOO=1 cmd</c>), which the simple commands no longer show.</param>
public sealed record ParsedCommand(IReadOnlyList<IReadOnlyList<string>> SimpleCommands, string? Unjudgeable, IReadOnlyList<Assignment> Assignments)
{
    internal static ParsedCommand CannotBeAudited(string reason) => new([], reason, []);
}

/// <summary>A variable set for a command.</summary>
/// <param name="Name">The variable.</param>
/// <param name="Command">The simple command that sets it, as read: assignments and wrappers included.</param>
public sealed record Assignment(string Name, IReadOnlyList<string> Command);
