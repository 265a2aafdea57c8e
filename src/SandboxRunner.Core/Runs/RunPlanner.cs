using SandboxRunner.Configuration;
using SandboxRunner.Contract;
using SandboxRunner.Environments;
using SandboxRunner.Git;
using SandboxRunner.Policy;
using SandboxRunner.Verification;

namespace SandboxRunner.Runs;

/// <summary>Turns a <see cref="RunRequest"/> into a <see cref="RunPlan"/>, or refuses it with every problem named.</summary>
public static class RunPlanner
{
    public const string Source = "run_codex_tasks arguments";
    public const int MinTimeoutSec = 10;
    public const int MaxTimeoutSec = 1800;

    public static async Task<RunPlan> PlanAsync(
        RunRequest request, RunnerConfig config, HostRepository repository, Func<string, bool> runIdInUse, TimeProvider clock, CancellationToken cancellationToken)
    {
        // The rules the tools' schema states (types, ids, ranges, names) come from the request's own attributes;
        // what is checked here depends on the config and the repository.
        var problems = ArgumentReader.Check(request).ToList();

        var runId = request.RunId ?? Ids.NewRunId(clock);
        if (Ids.IsValid(runId) && runIdInUse(runId))
        {
            problems.Add(new Problem("run_id", $"'{runId}' is already used by a run of this repository; choose another or omit it"));
        }

        var baseRef = request.BaseRef ?? "HEAD";
        string? baseCommit = null;
        if (TextRuleAttribute.Check(TextKind.GitRevision, baseRef) is null)
        {
            baseCommit = await repository.ResolveCommitAsync(baseRef, cancellationToken);
            if (baseCommit is null)
            {
                problems.Add(new Problem("base_ref", $"'{baseRef}' does not name a commit in {repository.Root}"));
            }
        }

        var resourcePolicy = request.ResourcePolicy is { } rp && ConfigLoader.ResourcePolicies.TryGetValue(rp, out var parsed) ? parsed : config.ResourcePolicy;
        var runEnvironment = ChooseEnvironment(request.Environment, "environment", config, problems);
        var runVerify = CheckVerify(new VerifyLevel(request.Verify, request.VerifyTimeoutSec, request.VerifyInputs), "", problems);
        var tasks = PlanTasks(request.Tasks, config, runEnvironment, runVerify, problems);
        if (!request.AuditCommands)
        {
            tasks = tasks.Select(t => t with { AllowedCommands = [] }).ToList();
        }

        if (problems.Count > 0)
        {
            throw new InvalidInputException(Source, problems);
        }

        return new RunPlan(
            runId, baseRef, baseCommit!, Math.Min(request.Concurrency ?? config.DefaultConcurrency, RunRequest.ConcurrencyCeiling), resourcePolicy, tasks, request.DryRun,
            request.SandboxMode ?? config.SandboxMode, request.OutputSchema, request.AuditCommands);
    }

    private static List<TaskPlan> PlanTasks(
        IReadOnlyList<TaskRequest>? requests, RunnerConfig config, ChosenEnvironment? runEnvironment, VerifyLevel runVerify, List<Problem> problems)
    {
        var plans = new List<TaskPlan>();
        if (requests is null)
        {
            return plans;
        }

        if (requests.Count > config.MaxTasksPerRun && requests.Count <= RunRequest.MaxTasks)
        {
            problems.Add(new Problem("tasks", $"may list at most {config.MaxTasksPerRun} tasks (max_tasks_per_run), got {requests.Count}"));
        }
        else if (requests.Count <= config.MaxTasksPerRun && requests.Sum(t => t?.Attempts is { } n and >= 1 and <= MaxAttempts ? n : 1) is var sandboxes && sandboxes > config.MaxTasksPerRun)
        {
            problems.Add(new Problem("tasks", $"run {sandboxes} sandboxes with their attempts, more than max_tasks_per_run ({config.MaxTasksPerRun}); lower attempts or split the run"));
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < requests.Count; i++)
        {
            var task = requests[i];
            var at = $"tasks[{i}]";
            if (task is null)
            {
                continue;
            }

            if (Ids.IsValid(task.TaskId) && !seen.Add(task.TaskId!))
            {
                problems.Add(new Problem($"{at}.task_id", $"'{task.TaskId}' is used by another task of this run; task ids must be unique"));
            }

            // The argument reader checked each path is relative; braces and '?', which the matcher would misread and no
            // schema pattern can state, are checked here.
            foreach (var (pattern, index) in (task.AllowedPaths ?? []).Select((p, n) => (p, n)))
            {
                if (pattern is not null && Configuration.GlobPatterns.Problem(pattern) is { } glob)
                {
                    problems.Add(new Problem($"{at}.allowed_paths[{index}]", glob));
                }
            }

            if (!config.AllowTaskPolicyWidening)
            {
                CheckNarrowing(task, at, config, problems);
            }

            var environment = task.Environment is null ? runEnvironment : ChooseEnvironment(task.Environment, $"{at}.environment", config, problems);
            var taskVerify = CheckVerify(new VerifyLevel(task.Verify, task.VerifyTimeoutSec, task.VerifyInputs), $"{at}.", problems);

            plans.Add(new TaskPlan(
                task.TaskId ?? "",
                task.Prompt ?? "",
                task.AllowedPaths ?? config.DefaultAllowedPaths,
                task.AllowedCommands ?? config.AllowedCommands,
                TimeSpan.FromSeconds(task.TimeoutSec ?? config.DefaultTimeoutSec))
            {
                EnvironmentName = environment?.Name,
                Environment = environment?.Spec,
                Verification = VerifyPlan.Resolve([taskVerify, runVerify, environment?.Spec?.VerifyLevel ?? new VerifyLevel(null, null, null), config.VerifyLevel]),
                Attempts = task.Attempts is { } n and >= 1 and <= MaxAttempts ? n : 1,
                Runtime = environment?.Spec?.Runtime ?? config.Runtime,
            });
        }

        return plans;
    }

    /// <summary>Attempts one task may have.</summary>
    public const int MaxAttempts = 8;

    /// <summary>
    /// The one rule of a run's or a task's verify fields that the schema cannot state (the reader checks the rest):
    /// each command at most 8 KiB of UTF-8, as the config's. <paramref name="prefix"/> is <c>""</c> or <c>tasks[i].</c>;
    /// a level with a problem is left out.
    /// </summary>
    private static VerifyLevel CheckVerify(VerifyLevel level, string prefix, List<Problem> problems)
    {
        var before = problems.Count;
        for (var i = 0; level.Commands is { } commands && i < commands.Count; i++)
        {
            if (commands[i] is { } command && ConfigLoader.NonBlank(command) is null && ConfigLoader.VerifyCommand(command) is { } broken)
            {
                problems.Add(new Problem($"{prefix}verify[{i}]", broken));
            }
        }

        // As for allowed_paths: the reader checked each input is relative; braces and '?' are checked here.
        for (var i = 0; level.Inputs is { } inputs && i < inputs.Count; i++)
        {
            if (inputs[i] is { } input && Configuration.GlobPatterns.Problem(input) is { } glob)
            {
                problems.Add(new Problem($"{prefix}verify_inputs[{i}]", glob));
            }
        }

        return problems.Count == before ? level : new VerifyLevel(null, null, null);
    }

    /// <summary>An environment a name chose: <c>none</c> is the plain Codex image, with no name and no spec.</summary>
    private sealed record ChosenEnvironment(string? Name, EnvironmentSpec? Spec);

    /// <summary>
    /// What <paramref name="name"/> (a task's, else the run's) chooses; unnamed is <c>default</c> when the config has an
    /// environment section, else <c>none</c>. Null, with the problem recorded, for a name the config does not define.
    /// </summary>
    private static ChosenEnvironment? ChooseEnvironment(string? name, string field, RunnerConfig config, List<Problem> problems)
    {
        name ??= config.Environment is null ? RunnerConfig.NoEnvironment : RunnerConfig.DefaultEnvironment;
        if (name == RunnerConfig.NoEnvironment)
        {
            return new ChosenEnvironment(null, null);
        }

        if (name == RunnerConfig.DefaultEnvironment)
        {
            if (config.Environment is { } section)
            {
                return new ChosenEnvironment(name, section);
            }

            problems.Add(new Problem(field, $"'default' is not defined; add an `environment` section to {RunnerConfig.FileName}"));
            return null;
        }

        if (config.Environments.TryGetValue(name, out var named))
        {
            return new ChosenEnvironment(name, named);
        }

        string[] known = [.. config.Environment is null ? [] : (string[])[RunnerConfig.DefaultEnvironment], RunnerConfig.NoEnvironment, .. config.Environments.Keys.Order(StringComparer.Ordinal)];
        problems.Add(new Problem(field, $"'{name}' is not an environment of {RunnerConfig.FileName} (known: {string.Join(", ", known)}); name one of those, or add it under environments"));
        return null;
    }

    /// <summary>A task may narrow the config's policy, never widen it, unless the config says so.</summary>
    private static void CheckNarrowing(TaskRequest task, string at, RunnerConfig config, List<Problem> problems)
    {
        foreach (var (pattern, i) in (task.AllowedPaths ?? []).Select((p, i) => (p, i)))
        {
            if (pattern is not null && !PathPolicy.IsNarrowing(pattern, config.DefaultAllowedPaths))
            {
                problems.Add(new Problem(
                    $"{at}.allowed_paths[{i}]",
                    $"'{pattern}' is wider than default_allowed_paths ({string.Join(", ", config.DefaultAllowedPaths)}); a task may only narrow them unless the config sets allow_task_policy_widening"));
            }
        }

        if (task.AllowedCommands is { } commands && commands.All(c => c is not null) && !CommandPolicy.IsNarrowing(commands, config.AllowedCommands))
        {
            problems.Add(new Problem(
                $"{at}.allowed_commands",
                $"is wider than allowed_commands ({string.Join(", ", config.AllowedCommands)}); every entry must start with one of them (an empty list allows everything) unless the config sets allow_task_policy_widening"));
        }
    }
}
