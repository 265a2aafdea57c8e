using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

/// <summary>
/// The parsed command line. No verb serves MCP over stdio (what MCP clients start); the verbs drive the
/// same library from a terminal or a pipeline. Options may come before or after the verb.
/// </summary>
internal sealed record CommandLine
{
    public const string Serve = "serve";

    public string RepoPath { get; init; } = Directory.GetCurrentDirectory();
    public bool Verbose { get; init; }
    public bool Help { get; init; }

    /// <summary>What is wrong with the command line: the argument and the fix.</summary>
    public string? Error { get; init; }

    /// <summary><c>serve</c> (no verb), <c>run</c>, <c>runs</c>, <c>show</c>, <c>apply</c>, <c>cancel</c>, <c>doctor</c> or <c>image build</c>.</summary>
    public string Verb { get; init; } = Serve;

    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>What every command takes, as the composition root reads it.</summary>
    public HostSettings Settings => new() { Repo = RepoPath, Verbose = Verbose };
    public string? Junit { get; init; }
    public string? Markdown { get; init; }
    public bool Json { get; init; }
    public bool Apply { get; init; }
    public string? RunId { get; init; }
    public string? BaseRef { get; init; }
    public int? Concurrency { get; init; }
    public string? ResourcePolicy { get; init; }
    public bool DryRun { get; init; }

    /// <summary><c>image prune --all</c>: every unused runner image, not only stale ones of this repository.</summary>
    public bool All { get; init; }
    public int WaitSec { get; init; } = 60;

    /// <summary><c>apply --attempt K</c>: that attempt of a task run with attempts, instead of the best.</summary>
    public int? Attempt { get; init; }

    private static readonly Dictionary<string, VerbSpec> Verbs = new(StringComparer.Ordinal)
    {
        [Serve] = new(0, 0, "", []),
        ["run"] = new(1, 1, "TASKS_FILE", ["--junit", "--markdown", "--json", "--apply", "--run-id", "--base-ref", "--concurrency", "--resource-policy", "--dry-run"]),
        ["runs"] = new(0, 0, "", ["--json"]),
        ["show"] = new(1, 2, "RUN [TASK]", ["--json"]),
        ["apply"] = new(2, 2, "RUN TASK", ["--json", "--attempt"]),
        ["cancel"] = new(1, 1, "RUN", ["--json", "--wait"]),
        ["doctor"] = new(0, 0, "", ["--json"]),
        ["image build"] = new(0, 0, "", ["--dry-run"]),
        ["image ls"] = new(0, 0, "", ["--json"]),
        ["image prune"] = new(0, 0, "", ["--all", "--dry-run", "--json"]),
    };

    private static readonly HashSet<string> ValueOptions = new(StringComparer.Ordinal)
    {
        "--repo", "--junit", "--markdown", "--run-id", "--base-ref", "--concurrency", "--resource-policy", "--wait", "--attempt",
    };

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var line = new CommandLine();
        var positionals = new List<string>();
        var verbChosen = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith('-') || arg == "-")
            {
                if (!verbChosen && positionals.Count == 0)
                {
                    verbChosen = true;
                    if (arg == "image")
                    {
                        if (i + 1 >= args.Count || args[i + 1] is not ("build" or "ls" or "prune"))
                        {
                            return line with { Verb = "image build", Error = "image: the image commands are `image build`, `image ls` and `image prune`" };
                        }

                        line = line with { Verb = $"image {args[++i]}" };
                        continue;
                    }

                    if (!Verbs.ContainsKey(arg) || arg == Serve)
                    {
                        return line with { Error = $"unknown command '{arg}'; the commands are run, runs, show, apply, cancel, doctor, image build, image ls and image prune (none serves MCP)" };
                    }

                    line = line with { Verb = arg };
                    continue;
                }

                positionals.Add(arg);
                continue;
            }

            var (name, inline) = arg.IndexOf('=', StringComparison.Ordinal) is var eq and > 0 ? (arg[..eq], arg[(eq + 1)..]) : (arg, null);
            string? value = null;
            if (ValueOptions.Contains(name))
            {
                if (inline is not null)
                {
                    value = inline;
                }
                else if (i + 1 < args.Count)
                {
                    value = args[++i];
                }
                else
                {
                    return line with { Error = $"{name} needs a value" };
                }
            }
            else if (inline is not null)
            {
                return line with { Error = $"{name} takes no value" };
            }

            line = WithOption(line, name, value, out var error);
            if (error is not null)
            {
                return line with { Error = error };
            }
        }

        return Check(line with { Arguments = positionals });
    }

    private static CommandLine WithOption(CommandLine line, string name, string? value, out string? error)
    {
        error = null;
        switch (name)
        {
            case "--repo": return line with { RepoPath = value! };
            case "--verbose" or "-v": return line with { Verbose = true };
            case "--help" or "-h": return line with { Help = true };
            case "--junit": return line with { Junit = value };
            case "--markdown": return line with { Markdown = value };
            case "--json": return line with { Json = true };
            case "--apply": return line with { Apply = true };
            case "--dry-run": return line with { DryRun = true };
            case "--all": return line with { All = true };
            case "--run-id": return line with { RunId = value };
            case "--base-ref": return line with { BaseRef = value };
            case "--resource-policy": return line with { ResourcePolicy = value };
            case "--concurrency" when int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var c):
                return line with { Concurrency = c };
            case "--concurrency":
                error = $"--concurrency: must be a whole number from 1 to 8 (got '{value}')";
                return line;
            case "--wait" when int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var w) && w <= 3600:
                return line with { WaitSec = w };
            case "--wait":
                error = $"--wait: must be a whole number of seconds from 0 to 3600 (got '{value}')";
                return line;
            case "--attempt" when int.TryParse(value, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var k) && k is >= 1 and <= 8:
                return line with { Attempt = k };
            case "--attempt":
                error = $"--attempt: must be a whole number from 1 to 8 (got '{value}')";
                return line;
            default:
                error = $"unknown option '{name}'{(line.Verb == Serve ? "" : $" for `{line.Verb}`")}; see `sandbox-runner {(line.Verb == Serve ? "" : line.Verb + " ")}--help`";
                return line;
        }
    }

    /// <summary>Options that belong to another verb and the number of arguments are checked once the verb is known.</summary>
    private static CommandLine Check(CommandLine line)
    {
        if (line.Help)
        {
            return line;
        }

        var spec = Verbs[line.Verb];
        var given = new List<string>();
        if (line.Junit is not null) given.Add("--junit");
        if (line.Markdown is not null) given.Add("--markdown");
        if (line.Json) given.Add("--json");
        if (line.Apply) given.Add("--apply");
        if (line.RunId is not null) given.Add("--run-id");
        if (line.BaseRef is not null) given.Add("--base-ref");
        if (line.Concurrency is not null) given.Add("--concurrency");
        if (line.ResourcePolicy is not null) given.Add("--resource-policy");
        if (line.DryRun) given.Add("--dry-run");
        if (line.WaitSec != 60) given.Add("--wait");
        if (line.Attempt is not null) given.Add("--attempt");
        if (given.FirstOrDefault(o => !spec.Options.Contains(o)) is { } foreign)
        {
            return line with { Error = line.Verb == Serve
                ? $"{foreign} belongs to a command (e.g. `sandbox-runner run TASKS_FILE {foreign} ...`); without one sandbox-runner serves MCP"
                : $"{foreign} is not an option of `{line.Verb}`; see `sandbox-runner {line.Verb} --help`" };
        }

        if (line.Arguments.Count < spec.Min)
        {
            var missing = spec.Usage.Split(' ')[line.Arguments.Count];
            return line with { Error = $"{line.Verb}: {missing} is missing; usage: sandbox-runner {line.Verb} {spec.Usage}" };
        }

        if (line.Arguments.Count > spec.Max)
        {
            return line with { Error = $"{line.Verb}: unexpected argument '{line.Arguments[spec.Max]}'; usage: sandbox-runner {line.Verb} {spec.Usage}".TrimEnd() };
        }

        return line;
    }

    private sealed record VerbSpec(int Min, int Max, string Usage, IReadOnlyList<string> Options);
}
