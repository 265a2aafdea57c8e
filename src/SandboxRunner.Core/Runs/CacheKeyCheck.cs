using SandboxRunner.Configuration;
using SandboxRunner.Environments;
using SandboxRunner.Git;

namespace SandboxRunner.Runs;

/// <summary>
/// Every <c>cache_keys</c> entry of an environment a run uses must match a file at the run's base commit: setup
/// sees only what they match, so one that names nothing is a typo that would leave setup without its file.
/// Refused before anything is created, naming the entry.
/// </summary>
public static class CacheKeyCheck
{
    public static async Task CheckAsync(RunPlan plan, GitCli git, HostRepository repository, CancellationToken cancellationToken)
    {
        var environments = plan.Tasks.Where(t => t.Environment?.CacheKeys is { Count: > 0 }).DistinctBy(t => t.EnvironmentName).ToList();
        if (environments.Count == 0)
        {
            return;
        }

        var tree = await BaseTree.ReadAsync(git, repository, plan.BaseCommit, cancellationToken);
        var problems = environments
            .SelectMany(t => SetupKey.Unmatched(tree, t.Environment!).Select(u => new Problem($"{SetupKey.FieldOf(t.EnvironmentName!)}.cache_keys[{u.Index}]", SetupKey.UnmatchedRule(u.Glob, plan.BaseCommit))))
            .ToList();
        if (problems.Count > 0)
        {
            throw new InvalidInputException(RunnerConfig.FileName, problems);
        }
    }
}
