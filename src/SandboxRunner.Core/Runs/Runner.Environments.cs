using SandboxRunner.Environments;
using SandboxRunner.Boxes;
using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

/// <summary>The images the current config runs with: tags one a line for <c>image build</c>, and what <c>image prune</c> keeps.</summary>
/// <param name="Notes">Where an environment's list stops (an image the tags after it depend on is not built yet), one line each.</param>
public sealed record CurrentImages(IReadOnlyList<string> Tags, IReadOnlyList<string> Notes);

/// <summary>The environments the current config names: the images they use, and a dry run's check of them.</summary>
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
        var images = new EnvironmentImages(_backend.Images, _git, Repository, _services.Scope);
        foreach (var (name, spec) in environments)
        {
            try
            {
                tags.AddRange(await images.ExistingTagsAsync(spec, Config.EffectiveAllowlist, tree, _images.TaskImage, why => notes.Add($"environment {name}: {why}"), cancellationToken));
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

        var statuses = await EnvironmentCheck.ExamineAsync(Config, names, Repository, _backend, _git, _images.TaskImage, plan.BaseCommit, cancellationToken);
        var problems = statuses.Where(s => !s.Usable).Select(s => new Configuration.Problem(s.Field, $"{s.Detail}; {s.Fix}")).ToList();
        if (problems.Count > 0)
        {
            throw new Configuration.InvalidInputException(Configuration.RunnerConfig.FileName, problems);
        }
    }
}
