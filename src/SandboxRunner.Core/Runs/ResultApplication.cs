using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Policy;

namespace SandboxRunner.Runs;

/// <summary>
/// Bringing a finished task's branch into the working tree and index (see <see cref="ResultApplier"/>), after
/// judging the branch's content again against the task's recorded paths and the current config's: a stored
/// verdict is never trusted alone, since the agent controlled every byte of the tree the branch holds.
/// </summary>
public sealed class ResultApplication(HostRepository repository, RunnerConfig config, RunStore store, GitCli git)
{
    /// <summary>
    /// Applies the task's branch; for a task run with attempts, the best attempt's, or <paramref name="attempt"/>'s
    /// when one is named. Bad ids, a missing result or a branch the policies refuse fail with what to do instead.
    /// </summary>
    public async Task<ApplyOutcome> ApplyAsync(string runId, string taskId, int? attempt, CancellationToken cancellationToken)
    {
        const string source = "apply_codex_result arguments";
        var problems = new List<Problem>();
        if (attempt is { } a && (a < 1 || a > RunPlanner.MaxAttempts))
        {
            problems.Add(new Problem("attempt", $"must be from 1 to {RunPlanner.MaxAttempts} (got {a})"));
        }

        if (!Ids.IsValid(runId))
        {
            problems.Add(new Problem("run_id", Ids.Rule));
        }

        if (!Ids.IsValid(taskId))
        {
            problems.Add(new Problem("task_id", Ids.Rule));
        }

        if (problems.Count > 0)
        {
            throw new InvalidInputException(source, problems);
        }

        var result = await store.ReadResultAsync(runId, taskId, cancellationToken)
            ?? throw new InvalidInputException(source, "task_id", $"run '{runId}' has no finished task '{taskId}'");
        if (attempt is { } k)
        {
            if (result.Attempts is not { } attempts)
            {
                throw new InvalidInputException(source, "attempt", $"task '{taskId}' ran once; leave attempt out");
            }

            result = attempts.Any(s => s.Attempt == k) ? await store.ReadResultAsync(runId, taskId, k, cancellationToken) : null;
            if (result is null)
            {
                throw new InvalidInputException(source, "attempt", $"task '{taskId}' has no finished attempt {k} (its attempts: {string.Join(", ", attempts.Select(s => s.Attempt).Order())})");
            }
        }

        if (result.Branch is null)
        {
            return new ApplyOutcome(true, "", [], [], "the task changed nothing; there is nothing to apply");
        }

        // A task that succeeded with violations ran under command_policy: audit, where they are only reported.
        if (result.Violations.Count > 0 && result.Status != TaskStatus.Success)
        {
            throw new InvalidInputException(source, "task_id",
                $"'{taskId}' broke the run's policies ({result.Violations.Count} violation(s), see its result); inspect branch {result.Branch} and merge it by hand if you accept it");
        }

        RunTaskRecord? recorded = null;
        try
        {
            recorded = (await store.ReadRunAsync(runId, cancellationToken))?.Tasks.FirstOrDefault(t => t.TaskId == taskId);
        }
        catch (DamagedRunException)
        {
            // Judged against the current config alone.
        }

        List<IReadOnlyList<string>> pathSets = [config.DefaultAllowedPaths];
        if (recorded?.AllowedPaths is { } taskPaths)
        {
            pathSets = config.AllowTaskPolicyWidening ? [taskPaths] : [taskPaths, config.DefaultAllowedPaths];
        }

        var violations = BranchReview.Check(repository, result.Branch, pathSets);
        if (violations.Count > 0)
        {
            throw new InvalidInputException(source, "task_id",
                $"branch {result.Branch} breaks the current policy, so nothing was applied: {string.Join("; ", violations.Take(10).Select(v => v.ToString()))}");
        }

        return await new ResultApplier(git).ApplyAsync(repository, result.Branch, cancellationToken);
    }
}
