using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Cli;

/// <summary>
/// The commands of a pipeline example in docs/ci.md (the README links it), so the tests run what the docs show. A block is a
/// <c>```yaml</c> fence whose first line carries <c>pipeline-test: NAME</c>; its commands are the lines that call
/// <c>sandbox-runner</c>, <c>docker save</c>/<c>docker load</c> or <c>git push</c>, in order, with yaml's
/// <c>- </c> and <c>run: </c> in front of them removed. Comments and the rest of the yaml (installs, uploads)
/// are the CI system's, not the runner's.
/// </summary>
public static class ReadmePipeline
{
    /// <summary>The page holding the examples.</summary>
    public const string Page = "docs/ci.md";

    private static readonly string[] Calls = ["sandbox-runner ", "docker save ", "docker load ", "git push "];

    public static IReadOnlyList<string> Commands(string name)
    {
        var lines = File.ReadAllLines(Path.Combine(RepoRoot.Path, Page));
        var start = Array.FindIndex(lines, l => l.StartsWith('#') && l.EndsWith($"pipeline-test: {name}", StringComparison.Ordinal));
        Assert.True(start > 0 && lines[start - 1] == "```yaml", $"{Page} has no ```yaml block whose first line ends with 'pipeline-test: {name}'");
        var commands = lines.Skip(start + 1)
            .TakeWhile(l => l != "```")
            .Select(Script)
            .Where(l => !l.StartsWith('#') && Calls.Any(c => l.Contains(c, StringComparison.Ordinal)))
            .ToList();
        Assert.NotEmpty(commands);
        return commands;
    }

    /// <summary>The <c>variables:</c> of a pipeline example (<c>NAME: value</c>, quotes removed): the CI system's settings for the job.</summary>
    public static IReadOnlyDictionary<string, string> Variables(string name)
    {
        var lines = File.ReadAllLines(Path.Combine(RepoRoot.Path, Page));
        var start = Array.FindIndex(lines, l => l.StartsWith('#') && l.EndsWith($"pipeline-test: {name}", StringComparison.Ordinal));
        var block = lines.Skip(start + 1).TakeWhile(l => l != "```").ToList();
        var at = block.FindIndex(l => l.Trim() == "variables:");
        Assert.True(at >= 0, $"{Page}'s '{name}' pipeline has no variables: block");
        var indent = block[at].Length - block[at].TrimStart().Length;
        return block.Skip(at + 1)
            .TakeWhile(l => l.Trim().Length == 0 || l.Length - l.TrimStart().Length > indent)
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#') && l.Contains(':'))
            .ToDictionary(l => l[..l.IndexOf(':')], l => l[(l.IndexOf(':') + 1)..].Trim().Trim('"'), StringComparer.Ordinal);
    }

    /// <summary>The shell text of a yaml line: indentation, a list item's dash and a step's <c>run:</c> removed.</summary>
    private static string Script(string line)
    {
        var text = line.Trim();
        if (text.StartsWith("- ", StringComparison.Ordinal))
        {
            text = text[2..].TrimStart();
        }

        return text.StartsWith("run: ", StringComparison.Ordinal) ? text["run: ".Length..].TrimStart() : text;
    }
}
