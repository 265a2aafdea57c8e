namespace SandboxRunner.Policy;

/// <summary>
/// Reads the command lines Codex reports (<c>/bin/bash -lc '…'</c>) well enough to audit them: the
/// <see cref="ShellLexer"/> splits them into simple commands, and this unwraps shells and wrappers, follows the
/// commands that programs such as <c>find -exec</c> and <c>watch</c> start (<see cref="Launchers"/>), and sets
/// variable assignments aside to be judged apart. It is an auditor's reader, not a shell: anything it cannot
/// place becomes a command of its own, to be judged, and a wrapper option it cannot read past, or a program
/// that would run a command it cannot see, makes the whole line unjudgeable.
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
    /// Longest command line read. Reading is linear, so this only bounds one line's cost; it leaves room for a
    /// heredoc and for quoting, which grows fourfold with each level of <c>bash -c '…'</c> (ten levels take 88 KiB).
    /// </summary>
    public const int MaxLength = 128 * 1024;

    /// <summary>Deepest nesting of command substitutions read; each level costs a stack frame.</summary>
    public const int MaxDepth = ShellLexer.MaxDepth;

    /// <summary>Deepest nesting of shells and launched commands (<c>bash -c</c>, <c>find -exec</c>) read through.</summary>
    private const int MaxShellDepth = 8;

    /// <summary>Reads <paramref name="command"/>: its simple commands, or why it cannot be audited.</summary>
    public static ParsedCommand Parse(string command)
    {
        if (command.Length > MaxLength)
        {
            return ParsedCommand.CannotBeAudited($"longer than {MaxLength} characters ({command.Length})");
        }

        var reading = new Reading();
        return Collect(command, reading, depth: 0) is { } reason
            ? ParsedCommand.CannotBeAudited(reason)
            : new ParsedCommand(reading.Commands, null, reading.Assignments);
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
    /// Splits a script into simple commands' words at every operator. Past <see cref="MaxDepth"/> it stops and
    /// returns what it read: good enough for the prefixes a config names, never for judging what an agent ran.
    /// </summary>
    internal static List<List<string>> Split(string script) => ShellLexer.Split(script);

    /// <summary>What one line holds so far: its simple commands and the variables set along the way.</summary>
    private sealed class Reading
    {
        public List<IReadOnlyList<string>> Commands { get; } = [];

        public List<Assignment> Assignments { get; } = [];
    }

    /// <summary>Adds the commands of <paramref name="script"/> to <paramref name="reading"/>; returns why it cannot be audited, or null.</summary>
    private static string? Collect(string script, Reading reading, int depth)
    {
        var reader = new ShellLexer.Reader(script);
        var commands = reader.ReadAll();
        if (reader.Unjudgeable is { } reason)
        {
            return reason;
        }

        foreach (var words in commands)
        {
            if (CollectCommand(words, reading, depth) is { } commandReason)
            {
                return commandReason;
            }
        }

        return null;
    }

    /// <summary>Adds one simple command as read (keywords, assignments and wrappers still in front) and whatever it starts.</summary>
    /// <remarks>
    /// <paramref name="words"/> carry the lexer's marks (<see cref="ShellLexer.Unknown"/>) for what bash fills in when
    /// it runs; the launch rules read them, and everything this adds to <paramref name="reading"/> is without them.
    /// </remarks>
    private static string? CollectCommand(List<string> words, Reading reading, int depth)
    {
        IReadOnlyList<string> Plain(IEnumerable<string> marked) => marked.Select(ShellLexer.Unmarked).ToList();
        if (LoopVariable(words) is { } loopVariable)
        {
            reading.Assignments.Add(new Assignment(ShellLexer.Unmarked(loopVariable), Plain(words), Exported: false));
            return null;
        }

        var assigned = new List<string>();
        if (ShellWrappers.Strip(StripPrefix(words, assigned), assigned, out var command) is { } wrapperReason)
        {
            return wrapperReason;
        }

        // NAME=value alone sets a shell variable; in front of a command it is put into that command's environment.
        var exported = command.Count > 0 || words.Count > assigned.Count + CountKeywords(words);
        reading.Assignments.AddRange(assigned.Select(a => new Assignment(a[..a.IndexOf('=', StringComparison.Ordinal)], Plain(words), exported)));

        if (command.Count == 0)
        {
            return null;
        }

        if (depth < MaxShellDepth && ProgramName(command[0]) is { } name && Shells.Contains(name) && ScriptArgument(command) is { } inner)
        {
            // Codex reports /bin/bash -lc "…" in quotes whose expansions are the inner shell's own, read again below; only a
            // script that bash fills in from its first character on ("$S", "$(cat s)") is unknown.
            return ShellLexer.StartsUnknown(inner)
                ? $"{name} -c runs a script bash fills in (a variable, a command's output or a glob)"
                : Collect(ShellLexer.Unmarked(inner), reading, depth + 1);
        }

        var launch = Launchers.Read(command);
        if (launch.Unjudgeable is { } launchReason)
        {
            return launchReason;
        }

        reading.Assignments.AddRange(launch.Sets.Select(v => new Assignment(ShellLexer.Unmarked(v), Plain(command), Exported: false)));
        reading.Commands.Add(Plain(launch.Command));
        if (depth >= MaxShellDepth && (launch.Runs.Count > 0 || launch.Scripts.Count > 0))
        {
            return $"commands started by other commands nested deeper than {MaxShellDepth}";
        }

        foreach (var run in launch.Runs)
        {
            if (CollectCommand([.. run], reading, depth + 1) is { } runReason)
            {
                return runReason;
            }
        }

        foreach (var script in launch.Scripts)
        {
            if (Collect(script, reading, depth + 1) is { } scriptReason)
            {
                return scriptReason;
            }
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

    /// <summary>The variable of <c>for NAME in …</c> or <c>select NAME in …</c>: a loop's head runs nothing, it sets NAME.</summary>
    private static string? LoopVariable(List<string> words)
    {
        var keywords = CountKeywords(words);
        var loop = words.Take(keywords).LastOrDefault();
        return loop is "for" or "select" && keywords < words.Count ? words[keywords] : null;
    }

    private static int CountKeywords(List<string> words)
    {
        var count = 0;
        while (count < words.Count && ShellLexer.Keywords.Contains(words[count]))
        {
            count++;
        }

        return count;
    }

    /// <summary>Drops leading keywords and assignments, adding the assignments to <paramref name="assigned"/>.</summary>
    private static List<string> StripPrefix(List<string> words, List<string> assigned)
    {
        var start = 0;
        for (; start < words.Count && (ShellLexer.Keywords.Contains(words[start]) || ShellLexer.IsAssignment(words[start])); start++)
        {
            if (ShellLexer.IsAssignment(words[start]))
            {
                assigned.Add(words[start]);
            }
        }

        return words[start..];
    }
}

/// <summary>What <see cref="ShellCommand.Parse"/> read out of one command line.</summary>
/// <param name="SimpleCommands">Each simple command as its words, wrappers unwrapped; empty when <paramref name="Unjudgeable"/> is set.</param>
/// <param name="Unjudgeable">Why the command line cannot be audited, or null when it can: a reason to refuse it, never to pass it.</param>
/// <param name="Assignments">Every variable set for a command (<c>FOO=1 cmd</c>, a lone <c>FOO=1</c>, <c>env FOO=1 cmd</c>, a loop's variable), which the simple commands no longer show.</param>
public sealed record ParsedCommand(IReadOnlyList<IReadOnlyList<string>> SimpleCommands, string? Unjudgeable, IReadOnlyList<Assignment> Assignments)
{
    internal static ParsedCommand CannotBeAudited(string reason) => new([], reason, []);
}

/// <summary>A variable set for a command.</summary>
/// <param name="Name">The variable.</param>
/// <param name="Command">The simple command that sets it, as read: assignments and wrappers included.</param>
/// <param name="Exported">Whether it goes into a program's environment (<c>FOO=1 cmd</c>, <c>env FOO=1 cmd</c>) rather than only the shell's own variables (<c>FOO=1</c> alone, <c>for FOO in</c>, <c>read FOO</c>).</param>
public sealed record Assignment(string Name, IReadOnlyList<string> Command, bool Exported = true);
