namespace SandboxRunner.Git;

/// <summary>The user's repository the runner serves. Read with trusted git: no agent has touched it.</summary>
public sealed class HostRepository
{
    private readonly GitCli _git;

    private HostRepository(GitCli git, string root, string commonDir)
    {
        _git = git;
        Root = root;
        CommonDir = commonDir;
    }

    /// <summary>Top of the working tree.</summary>
    public string Root { get; }

    /// <summary>The git directory shared by all of the repository's worktrees.</summary>
    public string CommonDir { get; }

    /// <summary>The object database, which task trees borrow read-only.</summary>
    public string ObjectsDir => Path.Combine(CommonDir, "objects");

    /// <summary>Everything the runner keeps for this repository that git itself ignores.</summary>
    public string RunnerDir => Path.Combine(CommonDir, "sandbox-runner");

    public static async Task<HostRepository> OpenAsync(GitCli git, string path, CancellationToken cancellationToken)
    {
        if (!Directory.Exists(path))
        {
            throw new DirectoryNotFoundException($"'{path}' does not exist.");
        }

        var output = await git.RunAsync(
            new GitCall(path, ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-common-dir"]) { AcceptedExitCodes = [0, 128] },
            cancellationToken);
        if (output.ExitCode != 0)
        {
            throw new InvalidOperationException($"'{path}' is not inside a git working tree (git said: {output.Stderr.Trim()}).");
        }

        var lines = output.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return new HostRepository(git, lines[0], lines[1]);
    }

    /// <summary>
    /// Whether <paramref name="commit"/> is in the history of the repository's HEAD (its checked-out branch, or
    /// the commit itself when detached): what the user has, as against an agent's result branch nobody merged.
    /// </summary>
    public async Task<bool> IsReachableFromHeadAsync(string commit, CancellationToken cancellationToken)
    {
        var output = await _git.RunAsync(
            new GitCall(Root, ["merge-base", "--is-ancestor", commit, "HEAD"]) { AcceptedExitCodes = [0, 1, 128] },
            cancellationToken);
        return output.ExitCode == 0;
    }

    /// <summary>The commit a ref names, or null when it names none. Refs that look like options are refused.</summary>
    public async Task<string?> ResolveCommitAsync(string reference, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(reference) || reference.StartsWith('-') || reference.Any(char.IsControl))
        {
            return null;
        }

        var output = await _git.RunAsync(
            new GitCall(Root, ["rev-parse", "--verify", "--quiet", reference + "^{commit}"]) { AcceptedExitCodes = [0, 1, 128] },
            cancellationToken);
        return output.ExitCode == 0 ? output.Text.Trim() : null;
    }
}
