namespace SandboxRunner.Policy;

/// <summary>What a <c>git</c> command line does beyond reading and changing the task's own repository.</summary>
/// <param name="Unjudgeable">Why it may run a program its words name (<c>-c core.pager=…</c>, <c>--config-env</c>, <c>--exec-path=DIR</c>, <c>grep -O</c>), or null.</param>
/// <param name="NotBaseline">Why it is outside the baseline (a subcommand that reaches the network, runs tools or pages), or null when it is inside.</param>
internal sealed record GitFindings(string? Unjudgeable, string? NotBaseline);

/// <summary>
/// Reads a <c>git</c> command line: its global options (where <c>-c</c> and friends can name a program to run)
/// and its subcommand, which the baseline allows when it reads or changes the task's own repository.
/// </summary>
internal static class GitCommand
{
    /// <summary>Subcommands that read the repository or change its working tree, index and local refs, and reach nothing else.</summary>
    public static readonly IReadOnlyList<string> BaselineSubcommands =
    [
        "status", "diff", "log", "show", "ls-files", "ls-tree", "grep", "rev-parse", "rev-list", "branch", "add", "rm", "mv", "restore",
        "checkout", "switch", "stash", "commit", "reset", "apply", "blame", "shortlog", "describe", "reflog", "cat-file", "merge-base",
        "name-rev", "show-ref", "for-each-ref", "tag", "diff-tree", "diff-files", "diff-index", "whatchanged", "clean", "version", "config",
    ];

    private static readonly HashSet<string> Subcommands = new(BaselineSubcommands, StringComparer.Ordinal);

    /// <summary>Global options that take a value in the next word (or after '=') and name no program.</summary>
    private static readonly HashSet<string> ValueOptions = new(StringComparer.Ordinal) { "-C", "--git-dir", "--work-tree", "--namespace", "--super-prefix", "--list-cmds", "--attr-source" };

    private static readonly HashSet<string> FlagOptions = new(StringComparer.Ordinal)
    {
        "--no-pager", "-P", "--bare", "--no-replace-objects", "--literal-pathspecs", "--glob-pathspecs", "--noglob-pathspecs", "--icase-pathspecs",
        "--no-optional-locks", "--no-lazy-fetch", "--no-advice", "--version", "-v", "--help", "-h", "--html-path", "--man-path", "--info-path", "--exec-path",
    };

    /// <summary>Settings <c>git -c</c> may give that name no program (identity, colours, quoting, advice).</summary>
    private static readonly string[] InertSettings =
    [
        "user.name", "user.email", "author.name", "author.email", "committer.name", "committer.email", "color.*", "core.quotepath", "core.abbrev",
        "advice.*", "init.defaultbranch", "commit.gpgsign", "tag.gpgsign", "safe.directory", "diff.noprefix", "diff.renames", "diff.mnemonicprefix",
        "status.showuntrackedfiles", "log.decorate", "core.autocrlf", "core.safecrlf", "column.ui",
    ];

    /// <summary>Options of <c>git config</c> that only read.</summary>
    private static readonly HashSet<string> ConfigReads = new(StringComparer.Ordinal) { "--get", "--get-all", "--get-regexp", "--list", "-l", "--get-urlmatch" };

    /// <param name="marked">The words, with the lexer's marks (<see cref="ShellLexer.Unknown"/>) or without.</param>
    public static GitFindings Examine(IReadOnlyList<string> marked)
    {
        var command = marked.Select(ShellLexer.Unmarked).ToList();
        var i = 1;
        for (; i < command.Count && command[i].StartsWith('-'); i++)
        {
            var word = command[i];
            var eq = word.IndexOf('=', StringComparison.Ordinal);
            var name = word.StartsWith("--", StringComparison.Ordinal) && eq > 0 ? word[..eq] : word;
            if (name == "-c" || (name.StartsWith("-c", StringComparison.Ordinal) && !name.StartsWith("--", StringComparison.Ordinal)))
            {
                var filled = ShellLexer.HasUnknown(marked[name.Length > 2 ? i : Math.Min(i + 1, marked.Count - 1)]);
                var setting = name.Length > 2 ? word[2..] : i + 1 < command.Count ? command[++i] : "";
                if (filled || !IsInert(setting))
                {
                    return new GitFindings($"git -c {KeyOf(setting)} sets configuration that can name a program for git to run (core.pager, alias.*, diff.external, core.fsmonitor …)", null);
                }
            }
            else if (name == "--config-env")
            {
                return new GitFindings("git --config-env sets configuration from a variable the audit cannot see", null);
            }
            else if (name == "--exec-path" && eq > 0)
            {
                return new GitFindings("git --exec-path=DIR runs its subcommands from DIR", null);
            }
            else if (name is "-p" or "--paginate")
            {
                return new GitFindings(null, $"git {name} pages its output through a pager program");
            }
            else if (ValueOptions.Contains(name))
            {
                i += eq > 0 || (name == "-C" && word.Length > 2) ? 0 : 1;
            }
            else if (!FlagOptions.Contains(name) && !(name.StartsWith("-C", StringComparison.Ordinal) && name.Length > 2))
            {
                return new GitFindings($"git option {name} is not one the audit can read past", null);
            }
        }

        if (i >= command.Count)
        {
            return new GitFindings(null, null);
        }

        var subcommand = command[i];
        var arguments = command.Skip(i + 1).ToList();
        if (subcommand == "grep" && arguments.Any(a => a.StartsWith("-O", StringComparison.Ordinal) || a.StartsWith("--open-files-in-pager", StringComparison.Ordinal)))
        {
            return new GitFindings("git grep -O runs the pager program it names", null);
        }

        if (!Subcommands.Contains(subcommand))
        {
            return new GitFindings(null, $"git {subcommand} is not one of the baseline's git subcommands ({string.Join(", ", BaselineSubcommands)})");
        }

        if (arguments.Contains("--ext-diff"))
        {
            return new GitFindings(null, $"git {subcommand} --ext-diff runs the external diff program git's configuration names");
        }

        if (subcommand == "config" && !arguments.Any(ConfigReads.Contains))
        {
            return new GitFindings(null, "git config is in the baseline only to read (--get, --list): a setting can name a program for git to run");
        }

        return new GitFindings(null, null);
    }

    private static string KeyOf(string setting)
    {
        var eq = setting.IndexOf('=', StringComparison.Ordinal);
        return eq < 0 ? setting : setting[..eq];
    }

    /// <summary>Whether a <c>-c</c> setting names no program: one of <see cref="InertSettings"/>, or a pager turned off.</summary>
    private static bool IsInert(string setting)
    {
        var key = KeyOf(setting).ToLowerInvariant();
        var value = setting.Length > key.Length ? setting[(key.Length + 1)..] : "true";
        if (key.StartsWith("pager.", StringComparison.Ordinal) && value.ToLowerInvariant() is "false" or "no" or "off" or "0")
        {
            return true;
        }

        return InertSettings.Any(s => s.EndsWith(".*", StringComparison.Ordinal)
            ? key.StartsWith(s[..^1], StringComparison.Ordinal) && key.IndexOf('.', s.Length - 1) < 0
            : key == s);
    }
}
