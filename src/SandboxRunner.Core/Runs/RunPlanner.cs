using SandboxRunner.Configuration;
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
        var problems = new List<Problem>();

        var runId = request.RunId ?? Ids.NewRunId(clock);
        if (!Ids.IsValid(runId))
        {
            problems.Add(new Problem("run_id", Ids.Rule));
        }
        else if (runIdInUse(runId))
        {
            problems.Add(new Problem("run_id", $"'{runId}' is already used by a run of this repository; choose another or omit it"));
        }

        var baseRef = request.BaseRef ?? "HEAD";
        string? baseCommit = null;
        if (baseRef.StartsWith('-'))
        {
            problems.Add(new Problem("base_ref", "must not start with '-'"));
        }
        else
        {
            baseCommit = await repository.ResolveCommitAsync(baseRef, cancellationToken);
            if (baseCommit is null)
            {
                problems.Add(new Problem("base_ref", $"'{baseRef}' does not name a commit in {repository.Root}"));
            }
        }

        if (request.Concurrency is { } c && (c < 1 || c > 8))
        {
            problems.Add(new Problem("concurrency", $"must be from 1 to 8 (got {c})"));
        }

        var resourcePolicy = config.ResourcePolicy;
        if (request.ResourcePolicy is { } rp)
        {
            if (ConfigLoader.ResourcePolicies.TryGetValue(rp, out var parsed))
            {
                resourcePolicy = parsed;
            }
            else
            {
                problems.Add(new Problem("resource_policy", "must be \"conservative\" or \"normal\""));
            }
        }

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
            runId, baseRef, baseCommit!, Math.Min(request.Concurrency ?? config.DefaultConcurrency, 8), resourcePolicy, tasks, request.DryRun,
            request.SandboxMode ?? config.SandboxMode, request.OutputSchema, request.AuditCommands);
    }

    private static List<TaskPlan> PlanTasks(
        IReadOnlyList<TaskRequest>? requests, RunnerConfig config, ChosenEnvironment? runEnvironment, VerifyLevel runVerify, List<Problem> problems)
    {
        var plans = new List<TaskPlan>();
        if (requests is null || requests.Count == 0)
        {
            problems.Add(new Problem("tasks", "must list at least one task"));
            return plans;
        }

        if (requests.Count > config.MaxTasksPerRun)
        {
            problems.Add(new Problem("tasks", $"may list at most {config.MaxTasksPerRun} tasks (max_tasks_per_run), got {requests.Count}"));
        }
        else if (requests.Sum(t => t?.Attempts is { } n and >= 1 and <= MaxAttempts ? n : 1) is var sandboxes && sandboxes > config.MaxTasksPerRun)
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
                problems.Add(new Problem(at, "must be an object"));
                continue;
            }

            if (!Ids.IsValid(task.TaskId))
            {
                problems.Add(new Problem($"{at}.task_id", Ids.Rule));
            }
            else if (!seen.Add(task.TaskId!))
            {
                problems.Add(new Problem($"{at}.task_id", $"'{task.TaskId}' is used by another task of this run; task ids must be unique"));
            }

            if (string.IsNullOrWhiteSpace(task.Prompt))
            {
                problems.Add(new Problem($"{at}.prompt", "must not be empty"));
            }

            if (task.TimeoutSec is { } t && (t < MinTimeoutSec || t > MaxTimeoutSec))
            {
                problems.Add(new Problem($"{at}.timeout_sec", $"must be from {MinTimeoutSec} to {MaxTimeoutSec} (got {t})"));
            }

            CheckList(task.AllowedPaths, $"{at}.allowed_paths", ConfigLoader.RelativePattern, problems);
            CheckList(task.AllowedCommands, $"{at}.allowed_commands", ConfigLoader.NonBlank, problems);
            if (!config.AllowTaskPolicyWidening)
            {
                CheckNarrowing(task, at, config, problems);
            }

            var environment = task.Environment is null ? runEnvironment : ChooseEnvironment(task.Environment, $"{at}.environment", config, problems);
            var taskVerify = CheckVerify(new VerifyLevel(task.Verify, task.VerifyTimeoutSec, task.VerifyInputs), $"{at}.", problems);
            if (task.Attempts is { } attempts && (attempts < 1 || attempts > MaxAttempts))
            {
                problems.Add(new Problem($"{at}.attempts", $"must be from 1 to {MaxAttempts} (got {attempts})"));
            }

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
            });
        }

        return plans;
    }

    /// <summary>Attempts one task may have.</summary>
    public const int MaxAttempts = 8;

    /// <summary>
    /// A run's or a task's verify fields, checked by the config's own rules (<paramref name="prefix"/> is <c>""</c> or
    /// <c>tasks[i].</c>); what is wrong is recorded and left out.
    /// </summary>
    private static VerifyLevel CheckVerify(VerifyLevel level, string prefix, List<Problem> problems)
    {
        var before = problems.Count;
        CheckList(level.Commands, $"{prefix}verify", ConfigLoader.VerifyCommand, problems);
        if (level.Commands is { Count: > VerifyPlan.MaxCommands } commands)
        {
            problems.Add(new Problem($"{prefix}verify", $"may list at most {VerifyPlan.MaxCommands} commands (got {commands.Count})"));
        }

        if (level.TimeoutSec is { } t && (t < VerifyPlan.MinTimeoutSec || t > VerifyPlan.MaxTimeoutSec))
        {
            problems.Add(new Problem($"{prefix}verify_timeout_sec", $"must be from {VerifyPlan.MinTimeoutSec} to {VerifyPlan.MaxTimeoutSec} (got {t})"));
        }

        CheckList(level.Inputs, $"{prefix}verify_inputs", ConfigLoader.RelativePattern, problems);
        if (level.Inputs is { Count: > VerifyPlan.MaxInputs } inputs)
        {
            problems.Add(new Problem($"{prefix}verify_inputs", $"may list at most {VerifyPlan.MaxInputs} globs (got {inputs.Count})"));
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

    private static void CheckList(IReadOnlyList<string>? values, string field, ConfigLoader.StringRule rule, List<Problem> problems)
    {
        for (var i = 0; values is not null && i < values.Count; i++)
        {
            if ((values[i] is null ? "must be a string" : rule(values[i])) is { } broken)
            {
                problems.Add(new Problem($"{field}[{i}]", broken));
            }
        }
    }
}
