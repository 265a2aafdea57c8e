namespace SandboxRunner.Policy;

/// <summary>
/// Audits the commands a task ran against <c>allowed_commands</c> (prefixes, matched word by word; an empty
/// list allows everything) and <c>denied_commands</c>. Codex has no allowlist mode, so the allowlist is
/// an audit after the fact; denied prefixes are also handed to Codex as <c>forbidden</c> rules up front.
/// </summary>
public sealed class CommandPolicy(IReadOnlyList<string> allowed, IReadOnlyList<string> denied)
{
    private readonly List<string[]> _allowed = allowed.Select(Words).ToList();
    private readonly List<string[]> _denied = denied.Select(Words).ToList();

    public IReadOnlyList<Violation> Check(IEnumerable<string> commands)
    {
        var violations = new List<Violation>();
        foreach (var command in commands)
        {
            var parsed = ShellCommand.Parse(command);
            if (parsed.Unjudgeable is { } reason)
            {
                // Refused whatever the lists say: an empty allowed list trusts commands it can read, not ones it cannot.
                violations.Add(Violation.ForCommand(ViolationKind.Unjudgeable, Excerpt(command), $"cannot be audited: {reason}"));
                continue;
            }

            foreach (var part in parsed.SimpleCommands)
            {
                var text = string.Join(' ', part);
                if (_denied.FirstOrDefault(d => StartsWith(part, d)) is { } deny)
                {
                    violations.Add(Violation.ForCommand(ViolationKind.CommandDenied, text, $"matches denied_commands entry '{string.Join(' ', deny)}'"));
                }
                else if (_allowed.Count > 0 && !_allowed.Any(a => StartsWith(part, a)))
                {
                    violations.Add(Violation.ForCommand(ViolationKind.CommandNotAllowed, text, $"matches none of allowed_commands ({string.Join(", ", allowed)})"));
                }
            }
        }

        return violations;
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

    private static bool StartsWith(IReadOnlyList<string> words, string[] prefix)
    {
        if (prefix.Length == 0 || words.Count < prefix.Length)
        {
            return false;
        }

        for (var i = 0; i < prefix.Length; i++)
        {
            // A program named by an absolute path counts as its name (/usr/bin/npm is npm); a relative
            // one (./npm) is a file in the worktree, which the agent may have written itself.
            var word = i == 0 && !prefix[0].Contains('/', StringComparison.Ordinal) && words[0].StartsWith('/') ? Path.GetFileName(words[0]) : words[i];
            if (!string.Equals(word, prefix[i], StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }
}
