using SandboxRunner.Environments;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;
using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

/// <summary>The images the current config runs with: tags one a line for <c>image build</c>, and what <c>image prune</c> keeps.</summary>
/// <param name="Notes">Where an environment's list stops (an image the tags after it depend on is not built yet), one line each.</param>
public sealed record CurrentImages(IReadOnlyList<string> Tags, IReadOnlyList<string> Notes);

/// <summary>The run's environments: prepared before any task starts, and what a failed setup leaves.</summary>
public sealed partial class Runner
{
    /// <summary>
    /// The task image and the egress proxy, then for each environment of the config the images a run at HEAD would
    /// use (base, environment, setup, Codex layer) that the engine has; nothing is built.
    /// </summary>
    public async Task<CurrentImages> CurrentImagesAsync(CancellationToken cancellationToken)
    {
        var tags = new List<string> { Image, ProxyImage };
        var notes = new List<string>();
        var environments = (Config.Environment is { } main ? [KeyValuePair.Create(Configuration.RunnerConfig.DefaultEnvironment, main)] : Array.Empty<KeyValuePair<string, EnvironmentSpec>>())
            .Concat(Config.Environments.OrderBy(e => e.Key, StringComparer.Ordinal))
            .ToList();
        if (environments.Count == 0)
        {
            return new CurrentImages(tags, notes);
        }

        if (await Repository.ResolveCommitAsync("HEAD", cancellationToken) is not { } head)
        {
            notes.Add("environments: not listed, the repository has no commit yet");
            return new CurrentImages(tags, notes);
        }

        var tree = await BaseTree.ReadAsync(_git, Repository, head, cancellationToken);
        var images = new EnvironmentImages(_engine, _git, Repository, Scope);
        foreach (var (name, spec) in environments)
        {
            try
            {
                tags.AddRange(await images.ExistingTagsAsync(spec, Config.EffectiveAllowlist, tree, Images.TaskImage, why => notes.Add($"environment {name}: {why}"), cancellationToken));
            }
            catch (Exception e) when (e is HttpRequestException or System.Net.Sockets.SocketException or Docker.DotNet.DockerApiException or TimeoutException)
            {
                notes.Add($"environment {name}: not listed, the Docker engine did not answer ({e.Message})");
            }
        }

        return new CurrentImages(tags.Distinct(StringComparer.Ordinal).ToList(), notes);
    }

    /// <summary>The dry run's check of the environments its tasks would use: a base that cannot run tasks is refused, naming what it lacks.</summary>
    private async Task CheckEnvironmentsAsync(RunPlan plan, CancellationToken cancellationToken)
    {
        var names = plan.Tasks.Where(t => t.Environment is not null).Select(t => t.EnvironmentName!).ToList();
        if (names.Count == 0)
        {
            return;
        }

        var statuses = await EnvironmentCheck.ExamineAsync(Config, names, Repository, _engine, _git, Images.TaskImage, plan.BaseCommit, cancellationToken);
        var problems = statuses.Where(s => !s.Usable).Select(s => new Configuration.Problem(s.Field, $"{s.Detail}; {s.Fix}")).ToList();
        if (problems.Count > 0)
        {
            throw new Configuration.InvalidInputException(Configuration.RunnerConfig.FileName, problems);
        }
    }

    /// <summary>Prepares the environments the run's tasks use; null when ready, else what failed and the fix.</summary>
    private async Task<string?> PrepareEnvironmentsAsync(RunEnvironments environments, RunPlan plan, ActiveRun run, CancellationToken cancellationToken)
    {
        if (!environments.Any)
        {
            return null;
        }

        void Report(string message)
        {
            foreach (var task in plan.Tasks.Where(t => t.Environment is not null))
            {
                run.Report(new TaskProgress(task.TaskId, "environment", $"{task.TaskId}: {message}"));
            }
        }

        try
        {
            await environments.PrepareAsync(Report, cancellationToken);
            return null;
        }
        catch (EnvironmentException e)
        {
            return e.Message;
        }
        catch (Exception e) when (e is ImageBuildException or InvalidOperationException or IOException or Git.GitException)
        {
            return $"preparing the run's environments failed: {e.Message}";
        }
    }

    private async Task<TaskResult> FailBeforeStartAsync(RunPlan plan, ActiveRun run, TaskPlan task, string reason)
    {
        var result = new TaskResult
        {
            TaskId = task.TaskId,
            Status = TaskStatus.Failed,
            Summary = "not started: the run's environment could not be prepared",
            NotesForManager = reason,
            WorkspacePath = Store.TaskFolder(plan.RunId, task.TaskId),
            Environment = TaskResults.EnvironmentOf(task),
            Verification = task.Verification.Any
                ? Verification.VerificationReport.NotRun(task.Verification, "not started: the run's environment could not be prepared", [])
                : Verification.VerificationReport.NotConfigured,
            Runtime = task.Runtime,
        };
        await Store.WriteResultAsync(plan.RunId, result, CancellationToken.None);
        run.Report(new TaskProgress(task.TaskId, "finished", $"{task.TaskId}: failed: {Policy.TerminalText.Neutralise(reason.Split('\n')[0])}") { Result = result });
        return result;
    }

    /// <summary>An egress proxy for a setup under <c>setup_network: deny</c> in a run whose tasks have the network.</summary>
    private async Task<EgressGateway> StartSetupGatewayAsync(RunPlan plan, CancellationToken cancellationToken)
    {
        await Images.EnsureAsync(includeProxy: true, cancellationToken);
        return await EgressGateway.StartAsync(_engine, Scope, plan.RunId, new EgressOptions(ProxyImage, Config.EffectiveAllowlist, Config.ModelBaseUrl, null), cancellationToken);
    }
}
