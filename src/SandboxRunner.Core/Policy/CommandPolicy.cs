namespace SandboxRunner.Policy;

/// <summary>
/// Audits the commands a task ran against the built-in <see cref="CommandBaseline"/>, <c>allowed_commands</c>
/// (prefixes, matched word by word, added to the baseline; an empty list allows everything) and
/// <c>denied_commands</c>. Codex has no allowlist mode, so the allowlist is an audit after the fact; denied
/// prefixes are also handed to Codex as <c>forbidden</c> rules up front.
/// <para>
/// What it guarantees, for a non-empty allowed list: every command line Codex reported is either read whole or a
/// violation. Read whole means every simple command in it (through <c>bash -c</c>, compound commands,
/// substitutions, the wrappers <c>env</c>, <c>nice</c>, <c>timeout</c>, <c>sudo</c>, <c>xargs</c> and the like, and
/// what <c>find -exec</c> and <c>watch</c> run) is a baseline command or starts with an allowed prefix, its program
/// named bare, in a system directory (<c>/usr/bin/</c>…) or by exactly the path the prefix names, never by
/// another path; and every variable it puts into a program's environment is one of a short list that only
/// changes how output looks (<c>CI</c>, <c>NO_COLOR</c>, <c>LC_*</c>…; see <see cref="Inert"/>). A line it cannot
/// read (a wrapper option it does not know, <c>env -C</c>, a quoted word where an assignment would stand, a
/// program that would run a command its words do not show, too long, too deeply nested) is a violation
/// whatever the lists say.
/// </para>
/// <para>
/// What it does not: it prevents nothing, since the commands have run by the time it reads them, and it sees
/// only what Codex reported. It judges a command by its words, not by what it does: an allowed prefix allows
/// any further arguments, and what an allowed program runs because of a file the agent can write (<c>npm test</c>
/// runs the package's test script, <c>git</c> the hooks and settings of the task's repository) is not judged,
/// nor is a variable the environment already holds. The denied list is a blacklist, so a denied program under
/// another name passes it.
/// </para>
/// </summary>
public sealed class CommandPolicy(IReadOnlyList<string> allowed, IReadOnlyList<string> denied)
{
    private readonly List<string[]> _allowed = allowed.Select(Words).ToList();
    private readonly List<string[]> _denied = denied.Select(Words).ToList();

    /// <summary>
    /// Variables that change which program an allowed command runs or what code it loads: shell startup and
    /// parsing, the dynamic loader, interpreters' load paths and options, and the programs and config git runs.
    /// </summary>
    private static readonly HashSet<string> Steering = new(StringComparer.Ordinal)
    {
        "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "IFS", "PATH", "HOME", "XDG_CONFIG_HOME", "GCONV_PATH", "CDPATH",
        "NODE_OPTIONS", "NODE_PATH", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT", "RUBYLIB",
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "DOTNET_STARTUP_HOOKS", "RIPGREP_CONFIG_PATH", "LESSOPEN", "LESSCLOSE",
        "GIT_DIR", "GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_PROXY_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_EXTERNAL_DIFF",
        "GIT_PAGER", "PAGER", "GIT_EDITOR", "EDITOR", "VISUAL",
    };

    /// <summary>
    /// The variables a command under a non-empty allowed list may put into a program's environment: ones that only
    /// change how output looks or which mode a tool reports in. Any other may steer what runs, so setting it is a violation.
    /// </summary>
    public static readonly IReadOnlySet<string> Inert = new HashSet<string>(StringComparer.Ordinal)
    {
        "CI", "NODE_ENV", "FORCE_COLOR", "NO_COLOR", "CLICOLOR", "TERM", "COLUMNS", "LINES", "LANG", "LANGUAGE", "TZ",
        "DEBIAN_FRONTEND", "RUST_BACKTRACE", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE", "PYTHONHASHSEED",
        "DOTNET_CLI_TELEMETRY_OPTOUT", "DOTNET_NOLOGO", "DOTNET_SKIP_FIRST_TIME_EXPERIENCE",
    };

    /// <summary>Whole families of such variables: <c>BASH_ENV</c> and exported functions (<c>BASH_FUNC_</c>), <c>LD_PRELOAD</c> and its kin, <c>GIT_CONFIG_COUNT</c> and its keys.</summary>
    private static readonly string[] SteeringPrefixes = ["BASH_", "LD_", "GIT_CONFIG"];

    /// <summary>
    /// Lower-case names programs do read from their environment (proxies, npm's settings) or that zsh ties to its
    /// search paths (<c>path</c> is <c>PATH</c>, <c>fpath</c> and <c>module_path</c> load code): never taken for a shell's own variable.
    /// </summary>
    private static readonly HashSet<string> LowerCaseSteering = new(StringComparer.Ordinal)
    {
        "path", "cdpath", "fpath", "manpath", "mailpath", "module_path", "fignore", "psvar", "watch", "histchars",
    };

    public IReadOnlyList<Violation> Check(IEnumerable<string> commands)
    {
        var violations = new List<Violation>();
        var open = _allowed.Count == 0;
        foreach (var command in commands)
        {
            var parsed = ShellCommand.Parse(command);
            if (parsed.Unjudgeable is { } reason)
            {
                // Refused whatever the lists say: an empty allowed list trusts commands it can read, not ones it cannot.
                violations.Add(Violation.ForCommand(ViolationKind.Unjudgeable, Excerpt(command), $"cannot be audited: {reason}"));
                continue;
            }

            // An allowed command is only what it looks like while the variables that steer it are left alone.
            foreach (var assignment in parsed.Assignments.Where(a => !open && !MaySet(a)))
            {
                violations.Add(Violation.ForCommand(
                    ViolationKind.CommandNotAllowed,
                    string.Join(' ', assignment.Command),
                    Steers(assignment.Name)
                        ? $"sets {assignment.Name}, which changes what a command runs"
                        : $"sets {assignment.Name}, which the audit cannot judge (a command may set only the inert variables docs/policies.md lists)"));
            }

            foreach (var part in parsed.SimpleCommands)
            {
                var text = string.Join(' ', part);
                if (_denied.FirstOrDefault(d => StartsWith(part, d, anyPath: true)) is { } deny)
                {
                    violations.Add(Violation.ForCommand(ViolationKind.CommandDenied, text, $"matches denied_commands entry '{string.Join(' ', deny)}'"));
                }
                else if (!open && CommandBaseline.Refuses(part) is { } notBaseline && !_allowed.Any(a => StartsWith(part, a)))
                {
                    violations.Add(Violation.ForCommand(ViolationKind.CommandNotAllowed, text, $"{notBaseline}, and matches none of allowed_commands ({string.Join(", ", allowed)})"));
                }
            }
        }

        return violations;
    }

    /// <summary>
    /// Whether a command may set <paramref name="assignment"/>: an inert variable anywhere; a shell's own variable
    /// (<c>f=1</c> alone, <c>for f in</c>, <c>read line</c>) when its name has a lower-case letter, as the variables
    /// programs read are upper-case, and it is none of the lower-case ones they do read.
    /// </summary>
    private static bool MaySet(Assignment assignment)
    {
        var name = assignment.Name;
        if (Inert.Contains(name) || name.StartsWith("LC_", StringComparison.Ordinal))
        {
            return true;
        }

        return !assignment.Exported && name.Any(char.IsAsciiLetterLower) && !LowerCaseSteering.Contains(name)
            && !name.EndsWith("_proxy", StringComparison.Ordinal) && !name.StartsWith("npm_", StringComparison.Ordinal);
    }

    /// <summary>The start of a command too long to read whole, so the violation stays a line in a report.</summary>
    private static string Excerpt(string command)
    {
        const int Length = 200;
        if (command.Length <= Length)
        {
            return command;
        }

        // Cutting between a surrogate pair would leave half a character, which JSON writers refuse.
        var cut = char.IsHighSurrogate(command[Length - 1]) ? Length - 1 : Length;
        return command[..cut] + "…";
    }

    /// <summary>Whether every command a task prefix allows is allowed by one of the config's prefixes.</summary>
    public static bool IsNarrowing(IReadOnlyList<string> taskAllowed, IReadOnlyList<string> configAllowed)
    {
        if (configAllowed.Count == 0)
        {
            return true;
        }

        return taskAllowed.Count > 0 && taskAllowed.All(t => configAllowed.Any(c => StartsWith(Words(t), Words(c))));
    }

    /// <summary>Codex execpolicy rules (Starlark) that make Codex refuse the denied prefixes before running them.</summary>
    public static string ForbiddenRules(IReadOnlyList<string> denied) =>
        string.Concat(denied.Select(d =>
            $"prefix_rule(pattern=[{string.Join(", ", Words(d).Select(Quote))}], decision=\"forbidden\")\n"));

    /// <summary>A Starlark string literal: a raw newline or control character inside one is a syntax error.</summary>
    private static string Quote(string word)
    {
        var text = new System.Text.StringBuilder("\"");
        foreach (var c in word)
        {
            text.Append(c switch
            {
                '\\' => "\\\\",
                '"' => "\\\"",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when char.IsControl(c) && c < 0x80 => $"\\x{(int)c:x2}",
                _ => c.ToString(),
            });
        }

        return text.Append('"').ToString();
    }

    private static string[] Words(string prefix) => ShellCommand.Split(prefix).FirstOrDefault()?.ToArray() ?? [];

    private static bool Steers(string variable) =>
        Steering.Contains(variable) || SteeringPrefixes.Any(p => variable.StartsWith(p, StringComparison.Ordinal));

    /// <summary>
    /// Whether <paramref name="words"/> start with <paramref name="prefix"/>. A program named by path counts as
    /// its name only in a system directory (/usr/bin/npm is npm; /tmp/npm or ./npm may be anything the agent
    /// put there). For a denied prefix, <paramref name="anyPath"/>, it counts as its name wherever it is, as
    /// refusing too much is the safe side of a blacklist.
    /// </summary>
    private static bool StartsWith(IReadOnlyList<string> words, string[] prefix, bool anyPath = false)
    {
        if (prefix.Length == 0 || words.Count < prefix.Length)
        {
            return false;
        }

        for (var i = 0; i < prefix.Length; i++)
        {
            var word = i > 0 || prefix[0].Contains('/', StringComparison.Ordinal) ? words[i]
                : anyPath ? Path.GetFileName(words[0])
                : ShellCommand.ProgramName(words[0]);
            if (!string.Equals(word, prefix[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }
}
