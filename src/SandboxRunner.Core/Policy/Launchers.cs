namespace SandboxRunner.Policy;

/// <summary>How xargs hands its input to the command it runs: appended as arguments, or put where <see cref="Placeholder"/> stands (<c>-I</c>).</summary>
internal sealed record XargsFeed(string? Placeholder);

/// <summary>What a simple command's arguments say about the commands it starts.</summary>
/// <param name="Command">The command as it is judged itself (<c>find</c> without its <c>-exec … ;</c> parts).</param>
/// <param name="Runs">Commands it runs, as words (<c>find -exec</c>, <c>watch -x</c>): each is judged like any other.</param>
/// <param name="Scripts">Shell scripts it runs (<c>watch 'cmd'</c>): each is read and judged like a command line.</param>
/// <param name="Sets">Shell variables it sets (<c>read NAME</c>, <c>printf -v NAME</c>), judged like assignments.</param>
/// <param name="Unjudgeable">Why it would run something the audit cannot see (<c>sed</c>'s <c>e</c>, <c>awk</c>'s <c>system()</c>), or null.</param>
internal sealed record Launch(IReadOnlyList<string> Command, IReadOnlyList<IReadOnlyList<string>> Runs, IReadOnlyList<string> Scripts, IReadOnlyList<string> Sets, string? Unjudgeable)
{
    public static Launch Nothing(IReadOnlyList<string> command) => new(command, [], [], [], null);

    public static Launch Refused(IReadOnlyList<string> command, string reason) => new(command, [], [], [], reason);
}

/// <summary>
/// Programs that can start another program. For each, the audit either finds the program it starts and
/// judges it like any command (<c>find -exec</c>, <c>watch</c>, <c>xargs</c> through <see cref="ShellCommand"/>'s
/// wrappers), or refuses the line as unjudgeable when what it starts cannot be seen in the words (<c>sed</c>'s
/// <c>e</c>, <c>awk</c>'s <c>system()</c> and pipes, <c>git -c core.pager=…</c>, an editor's <c>:!cmd</c>). This
/// holds whichever list allows the program: an allowed <c>find</c> does not allow what its <c>-exec</c> runs.
/// </summary>
internal static class Launchers
{
    /// <summary>Programs whose started commands cannot be read from their words at all.</summary>
    private static readonly Dictionary<string, string> Opaque = new(StringComparer.Ordinal)
    {
        ["parallel"] = "runs commands built from its arguments and its input, which the audit cannot see whole",
        ["sem"] = "(GNU parallel) runs commands built from its arguments and its input, which the audit cannot see whole",
        ["flock"] = "runs the command after its lock file, which the audit does not read past",
        ["script"] = "runs a shell, or the command string given with -c, which the audit does not read",
        ["su"] = "runs a shell, or the command string given with -c, which the audit does not read",
        ["runuser"] = "runs a shell, or the command string given with -c, which the audit does not read",
        ["vi"] = Editor,
        ["vim"] = Editor,
        ["nvim"] = Editor,
        ["view"] = Editor,
        ["vimdiff"] = Editor,
        ["ex"] = Editor,
        ["ed"] = Editor,
        ["red"] = Editor,
        ["emacs"] = Editor,
        ["nano"] = Editor,
        ["pico"] = Editor,
    };

    private const string Editor = "is an editor: it runs the shell commands its input or options give it (:!cmd, !cmd)";

    /// <summary>Programs whose options can start a program: an argument bash fills in could be such an option.</summary>
    private static readonly HashSet<string> OptionLaunchers = new(StringComparer.Ordinal)
    {
        "find", "sed", "awk", "gawk", "mawk", "nawk", "git", "sort", "rg", "tar", "less", "more", "watch", "set",
    };

    /// <summary>
    /// What <paramref name="marked"/> (a simple command, wrappers unwrapped, with the lexer's marks) starts. An argument
    /// bash fills in at its start (<c>"$x"</c>, <c>$(…)</c>, a glob like <c>*</c>) may become any option, so for a
    /// program whose options can start another nothing can be judged before <c>--</c> (for <c>find</c>, anywhere).
    /// </summary>
    public static Launch Read(List<string> marked)
    {
        var command = marked.Select(ShellLexer.Unmarked).ToList();
        if (ShellLexer.HasUnknown(marked[0]) || ShellCommand.ProgramName(command[0]) is not { } name)
        {
            return Launch.Nothing(marked);
        }

        if (OptionLaunchers.Contains(name))
        {
            var end = name switch
            {
                "find" => marked.Count,
                "awk" or "gawk" or "mawk" or "nawk" => AwkProgram.ProgramIndex(marked),
                _ => marked.FindIndex(1, w => w == "--") is var i and >= 0 ? i : marked.Count,
            };
            // Filled in at its start, or inside an option (-ex$X may be -exec): either can become an option that runs a program.
            if (marked.Take(end).Skip(1).FirstOrDefault(w => ShellLexer.StartsUnknown(w) || (ShellLexer.HasUnknown(w) && w.StartsWith('-'))) is { } filled)
            {
                return Launch.Refused(marked, $"{name}'s argument '{ShellLexer.Unmarked(filled)}' is filled in by bash (a variable, a command's output or a glob) and may become an option that runs a program");
            }
        }

        return Known(name, marked, command);
    }

    private static Launch Known(string name, List<string> marked, List<string> command) => name switch
    {
        "find" => Find(marked),
        "watch" => Watch(marked),
        "sed" => SedScript.Examine(marked) is { Unjudgeable: { } why } ? Launch.Refused(command, why) : Launch.Nothing(command),
        "awk" or "gawk" or "mawk" or "nawk" => AwkProgram.Examine(marked) is { } why ? Launch.Refused(command, why) : Launch.Nothing(command),
        "git" => GitCommand.Examine(marked) is { Unjudgeable: { } why } ? Launch.Refused(command, why) : Launch.Nothing(command),
        "sort" => LongOption(command, "compress-program", 6) ? Launch.Refused(command, "sort --compress-program runs the program it names") : Launch.Nothing(command),
        "rg" => command.Any(w => w == "--pre" || w.StartsWith("--pre=", StringComparison.Ordinal))
            ? Launch.Refused(command, "rg --pre runs the program it names on every file")
            : Launch.Nothing(command),
        "tar" => Tar(command),
        "less" or "more" => command.Skip(1).Any(w => w.StartsWith('+') || w == "-k" || w.StartsWith("--lesskey", StringComparison.Ordinal))
            ? Launch.Refused(command, $"{command[0]} +CMD and a lesskey file run commands the audit does not read (!cmd)")
            : Launch.Nothing(command),
        "printf" => command.Count > 2 && command[1] == "-v" ? new Launch(command, [], [], [command[2]], null) : Launch.Nothing(command),
        "read" => new Launch(command, [], [], ReadVariables(command), null),
        _ when Opaque.TryGetValue(name, out var why) => Launch.Refused(command, $"{name} {why}"),
        _ => Launch.Nothing(command),
    };

    /// <summary>The text <c>xargs -I</c> (or <c>-i</c>, <c>--replace</c>) replaces with each input line; null when none is set.</summary>
    internal static string? XargsReplacement(IReadOnlyList<(string Name, string? Value)> options)
    {
        var replace = options.LastOrDefault(o => o.Name is "I" or "i" or "replace");
        return replace.Name is null ? null : string.IsNullOrEmpty(replace.Value) ? "{}" : replace.Value;
    }

    /// <summary>Programs whose arguments can start a program: xargs must not hand them words the audit cannot see.</summary>
    private static readonly HashSet<string> CodeTaking = new(StringComparer.Ordinal)
    {
        "find", "watch", "sed", "awk", "gawk", "mawk", "nawk", "git", "sort", "rg", "tar", "less", "more", "bash", "sh", "zsh", "dash", "ksh", "ash", "mksh",
    };

    /// <summary>
    /// Why <paramref name="command"/>, run by xargs with words from its input (appended, or put where the
    /// <c>-I</c> placeholder stands), may run a program the audit cannot see; null when the input can only be data.
    /// </summary>
    internal static string? FedByXargs(IReadOnlyList<string> command, XargsFeed feed, bool wrappedAfterFeed)
    {
        if (command.Count == 0)
        {
            return wrappedAfterFeed ? "xargs would take the program a wrapper runs from its input" : null;
        }

        var placeholder = feed.Placeholder;
        if (placeholder is not null && command[0].Contains(placeholder, StringComparison.Ordinal))
        {
            return $"xargs -I makes its input ('{placeholder}') the program it runs";
        }

        var name = ShellCommand.ProgramName(command[0]);
        if (name is null || !(CodeTaking.Contains(name) || Opaque.ContainsKey(name)))
        {
            return null;
        }

        var endOfOptions = command.ToList().IndexOf("--");
        bool Safe() => name switch
        {
            // awk stops reading options at its program: what follows it is files and assignments.
            "awk" or "gawk" or "mawk" or "nawk" => AwkProgram.Examine(command) is null && AwkProgram.HasProgram(command),
            "sh" or "bash" or "zsh" or "dash" or "ksh" or "ash" or "mksh" => true,
            "find" or "watch" => false,
            _ when Opaque.ContainsKey(name) => false,
            _ => endOfOptions > 0,
        };

        if (placeholder is null)
        {
            return Safe() ? null : $"xargs adds words from its input to {name}, whose arguments can make it run a program";
        }

        var feeds = command.Select((w, i) => (w, i)).Where(x => x.w.Contains(placeholder, StringComparison.Ordinal)).Select(x => x.i).ToList();
        var intoCode = name switch
        {
            // sh -c SCRIPT NAME ARGS…: the input is safe only among the script's arguments.
            "sh" or "bash" or "zsh" or "dash" or "ksh" or "ash" or "mksh" => feeds.Any(i => i <= ScriptIndex(command)),
            "find" or "watch" => feeds.Count > 0,
            _ when Opaque.ContainsKey(name) => feeds.Count > 0,
            _ => feeds.Any(i => endOfOptions < 0 || i < endOfOptions),
        };
        return intoCode ? $"xargs -I puts its input ('{placeholder}') where {name} reads code or options" : null;
    }

    /// <summary>The index of a shell's <c>-c</c> script (past the end when it has none, so every word counts as code).</summary>
    private static int ScriptIndex(IReadOnlyList<string> command)
    {
        for (var i = 1; i < command.Count && command[i].StartsWith('-'); i++)
        {
            if (!command[i].StartsWith("--", StringComparison.Ordinal) && command[i].Contains('c', StringComparison.Ordinal))
            {
                return i + 1;
            }
        }

        return command.Count;
    }

    /// <summary>
    /// <c>find</c>'s <c>-exec</c>, <c>-execdir</c>, <c>-ok</c> and <c>-okdir</c> run the words up to <c>;</c> or <c>+</c>:
    /// those are judged as a command of their own. Where a found file would be the program, nothing can be judged.
    /// </summary>
    private static Launch Find(List<string> command)
    {
        var kept = new List<string>();
        var runs = new List<IReadOnlyList<string>>();
        for (var i = 0; i < command.Count; i++)
        {
            if (command[i] is not ("-exec" or "-execdir" or "-ok" or "-okdir"))
            {
                kept.Add(command[i]);
                continue;
            }

            var end = i + 1;
            while (end < command.Count && command[end] != ";" && !(command[end] == "+" && command[end - 1] == "{}"))
            {
                end++;
            }

            var run = command[(i + 1)..end];
            if (run.Count == 0 || run[0].Contains("{}", StringComparison.Ordinal))
            {
                return Launch.Refused(command, $"find {command[i]} runs the files it finds as programs");
            }

            runs.Add(run);
            i = end;
        }

        return new Launch(kept, runs, [], [], null);
    }

    /// <summary><c>watch</c> runs its arguments as a shell script (<c>sh -c</c>), or as a command with <c>-x</c>.</summary>
    private static Launch Watch(List<string> command)
    {
        var exec = false;
        var i = 1;
        for (; i < command.Count && command[i].StartsWith('-') && command[i].Length > 1; i++)
        {
            var word = command[i];
            if (word == "--")
            {
                i++;
                break;
            }

            var (name, takesValue) = word switch
            {
                "-n" or "--interval" or "-q" or "--equexit" => (word, true),
                _ when word.StartsWith("--interval=", StringComparison.Ordinal) || word.StartsWith("--equexit=", StringComparison.Ordinal) => (word, false),
                _ when word.Length > 2 && word[1] is 'n' or 'q' => (word, false),
                "-x" or "--exec" => ("exec", false),
                "-d" or "--differences" or "-t" or "--no-title" or "-b" or "--beep" or "-e" or "--errexit" or "-g" or "--chgexit"
                    or "-c" or "--color" or "-C" or "--no-color" or "-p" or "--precise" or "-w" or "--no-wrap" or "--no-linewrap" => (word, false),
                _ when word.StartsWith("--differences=", StringComparison.Ordinal) => (word, false),
                _ => ("", false),
            };
            if (name.Length == 0)
            {
                return Launch.Refused(command, $"watch option {word} is not one the audit can read past");
            }

            exec |= name == "exec";
            i += takesValue ? 1 : 0;
        }

        var rest = i < command.Count ? command[i..] : [];
        if (rest.Count == 0)
        {
            return Launch.Nothing(command);
        }

        if (!exec && rest.Any(ShellLexer.HasUnknown))
        {
            return Launch.Refused(command, "watch runs a script bash fills in (a variable, a command's output or a glob)");
        }

        return exec ? new Launch(command, [rest], [], [], null) : new Launch(command, [], [string.Join(' ', rest)], [], null);
    }

    /// <summary><c>tar</c>'s options that run a program: <c>--to-command</c>, <c>-I</c>/<c>--use-compress-program</c>, checkpoint actions, volume scripts.</summary>
    private static Launch Tar(List<string> command)
    {
        string[] running = ["to-command", "use-compress-program", "checkpoint-action", "info-script", "new-volume-script", "rsh-command", "rmt-command"];
        for (var i = 1; i < command.Count; i++)
        {
            var word = command[i];
            if (word == "--")
            {
                break;
            }

            var bundle = word.StartsWith('-') && !word.StartsWith("--", StringComparison.Ordinal) ? word[1..] : i == 1 && !word.StartsWith('-') ? word : null;
            if ((bundle is not null && bundle.IndexOfAny(['I', 'F']) >= 0) || running.Any(r => LongOptionMatches(word, r, 4)))
            {
                return Launch.Refused(command, "tar runs the program its compression, --to-command or checkpoint options name");
            }
        }

        return Launch.Nothing(command);
    }

    /// <summary>The variables <c>read</c> sets: its name operands (<c>REPLY</c> when none) and <c>-a</c>'s array.</summary>
    private static List<string> ReadVariables(List<string> command)
    {
        var names = new List<string>();
        var i = 1;
        for (; i < command.Count && command[i].StartsWith('-') && command[i].Length > 1; i++)
        {
            var word = command[i];
            if (word == "--")
            {
                i++;
                break;
            }

            for (var j = 1; j < word.Length; j++)
            {
                if (word[j] is 'a' or 'd' or 'i' or 'n' or 'N' or 'p' or 't' or 'u')
                {
                    var value = j + 1 < word.Length ? word[(j + 1)..] : i + 1 < command.Count ? command[++i] : "";
                    if (word[j] == 'a')
                    {
                        names.Add(value);
                    }

                    break;
                }
            }
        }

        names.AddRange(command.Skip(i));
        return names.Count > 0 ? names : ["REPLY"];
    }

    /// <summary>Whether any word is the long option <paramref name="name"/> or an abbreviation of it getopt would take (at least <paramref name="minimum"/> letters).</summary>
    private static bool LongOption(List<string> command, string name, int minimum) => command.Any(w => LongOptionMatches(w, name, minimum));

    private static bool LongOptionMatches(string word, string name, int minimum)
    {
        if (!word.StartsWith("--", StringComparison.Ordinal))
        {
            return false;
        }

        var eq = word.IndexOf('=', StringComparison.Ordinal);
        var given = eq < 0 ? word[2..] : word[2..eq];
        return given.Length >= Math.Min(minimum, name.Length) && name.StartsWith(given, StringComparison.Ordinal);
    }
}
