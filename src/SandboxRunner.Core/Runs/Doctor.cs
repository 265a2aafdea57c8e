using System.Text.Json.Serialization;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

public sealed record DoctorCheck(
    [property: JsonPropertyName("check")] string Check,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("detail")] string Detail,
    [property: JsonPropertyName("fix")] string? Fix);

public sealed record DoctorReport(
    [property: JsonPropertyName("ok")] bool Ok,
    [property: JsonPropertyName("checks")] IReadOnlyList<DoctorCheck> Checks);

/// <summary>Whether this machine and repository can run tasks, each check with the fix when it cannot.</summary>
public static class Doctor
{
    public const string Ok = "ok";
    public const string Warn = "warn";
    public const string Fail = "fail";

    /// <summary>The machine and the repository with its config file as it is now (the command line's and the MCP tool's doctor).</summary>
    public static Task<DoctorReport> ExamineAsync(
        string repoPath, ITaskBackend backend, GitCli git, Func<string, string?> environment, CancellationToken cancellationToken) =>
        ExamineAsync(repoPath, backend, git, environment, null, cancellationToken);

    /// <summary>
    /// As the other overload, but with <paramref name="sessionConfig"/>, when given, in place of the file: the config a
    /// host runs with (the file as it read it, with its own changes, such as a test's builder makes). Examining the file
    /// again would describe another image, network policy or environment than the host's runs get.
    /// </summary>
    public static async Task<DoctorReport> ExamineAsync(
        string repoPath, ITaskBackend backend, GitCli git, Func<string, string?> environment, RunnerConfig? sessionConfig, CancellationToken cancellationToken)
    {
        var checks = new List<DoctorCheck>();
        HostRepository? repository = null;
        try
        {
            repository = await HostRepository.OpenAsync(git, repoPath, cancellationToken);
            var head = await repository.ResolveCommitAsync("HEAD", cancellationToken);
            checks.Add(head is null
                ? new DoctorCheck("repository", Fail, $"{repository.Root} has no commit yet", "commit something: tasks start from a commit (base_ref)")
                : new DoctorCheck("repository", Ok, $"{repository.Root} at {head[..12]}", null));
        }
        catch (Exception e) when (e is InvalidOperationException or DirectoryNotFoundException)
        {
            checks.Add(new DoctorCheck("repository", Fail, e.Message, "start sandbox-runner inside a git repository, or pass --repo PATH"));
        }

        RunnerConfig? config = RunnerConfig.Default;
        if (sessionConfig is not null)
        {
            config = sessionConfig;
            checks.Add(new DoctorCheck("config", Ok, $"the session's config: {RunnerConfig.FileName} (or the defaults) as the session read it, with the session's changes", null));
        }
        else if (repository is not null)
        {
            try
            {
                config = await ConfigLoader.LoadAsync(repository.Root, cancellationToken);
                checks.Add(new DoctorCheck("config", Ok, File.Exists(Path.Combine(repository.Root, RunnerConfig.FileName)) ? $"{RunnerConfig.FileName} is valid" : $"no {RunnerConfig.FileName}: defaults apply", null));
            }
            catch (InvalidInputException e)
            {
                // Checks against the built-in defaults would describe a config nobody has: the ones that need the config wait for it.
                config = null;
                checks.Add(new DoctorCheck("config", Fail, $"{e.Message}\n(the config is broken, so the checks that depend on it were not run: image, environments, auth, network)",
                    $"correct the fields named above in {RunnerConfig.FileName}, then run the doctor again"));
            }
        }

        if (config is null)
        {
            checks.Add(await DockerCheckAsync(backend, cancellationToken));
            return new DoctorReport(false, checks);
        }

        var image = config.Image ?? ImageRecipe.Codex(config.CodexVersion).Tag;
        try
        {
            var facts = await backend.DescribeAsync(cancellationToken);
            checks.Add(new DoctorCheck("docker", Ok, $"engine {facts.Version}, API {facts.ApiVersion}", null));
            if (facts.Nodes.Count > 0)
            {
                checks.Add(NodesCheck(backend, facts.Nodes));
            }

            var imagePresent = await backend.Images.ExistsAsync(image, cancellationToken);
            checks.Add(imagePresent
                ? new DoctorCheck("image", Ok, $"{image} is present", null)
                : config.Image is not null
                    ? new DoctorCheck("image", Fail, $"{image} is not in the engine", $"build or load {image}, or remove \"image\" from {RunnerConfig.FileName} to use the default")
                    : Codex.CodexTarball.NpmAvailable()
                        ? new DoctorCheck("image", Warn, $"{image} is not built yet; the first run builds it (about a minute)", "or build it now: sandbox-runner image build")
                        : new DoctorCheck("image", Fail, $"{image} is missing and npm is not on PATH to locate the Codex CLI", "install Node.js (npm), or build Dockerfile.codex by hand and set \"image\""));
            if (await backend.ExposedApiAsync(cancellationToken) is { } exposed)
            {
                // Refused at run time only where something would sit on the bridge; said here either way.
                var onBridge = config.NetworkPolicy == NetworkPolicy.Allow
                    || new[] { config.Environment }.Concat(config.Environments.Values).Any(e => e is { Setup.Count: > 0, SetupNetwork: Configuration.SetupNetwork.Allow });
                checks.Add(new DoctorCheck("engine-api", onBridge ? Fail : Warn,
                    $"{exposed}: a task or setup under \"allow\" could use it, so runs refuse \"allow\" here",
                    "reach the engine over TLS with client certificates (DOCKER_HOST=tcp://HOST:2376, DOCKER_TLS_VERIFY=1, DOCKER_CERT_PATH), or keep network_policy and setup_network at \"deny\""));
            }

            checks.AddRange(await RuntimeDoctor.ExamineAsync(config, backend, facts.Runtimes, image, imagePresent, repository is null ? null : Labels.ScopeOf(repository.CommonDir), cancellationToken));
            checks.AddRange(await EnvironmentChecksAsync(config, repository, backend, git, cancellationToken));
            if (config.NetworkPolicy == NetworkPolicy.Deny && !await backend.Images.ExistsAsync(ImageRecipe.EgressProxy().Tag, cancellationToken))
            {
                checks.Add(new DoctorCheck("egress-proxy", Warn, $"{ImageRecipe.EgressProxy().Tag} is not built yet; the first run in deny builds it", "or build it now: sandbox-runner image build"));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            checks.Add(new DoctorCheck("docker", Fail, $"not reachable: {e.Message}", "start the engine (`bash .ci/setup` installs and starts one on Debian) or set DOCKER_HOST"));
        }

        var (credential, problem) = Auth.CredentialRule.Choose(config, environment);
        checks.Add(await CredentialCheck.ExamineAsync(config, credential, problem, environment, TimeProvider.System, cancellationToken));
        checks.Add(NetworkCheck(config));
        if (await ModelRouteCheck.ExamineAsync(config, credential?.Kind, cancellationToken) is { } route)
        {
            checks.Add(route);
        }

        return new DoctorReport(checks.All(c => c.Status != Fail), checks);
    }

    /// <summary>A cluster's nodes, one line each with its state and free capacity: where tasks can go, and why not.</summary>
    private static DoctorCheck NodesCheck(ITaskBackend backend, IReadOnlyList<BackendNode> nodes)
    {
        var taking = nodes.Count(n => n.TakesBoxes);
        var detail = $"{backend.Name}: {taking} of {nodes.Count} node(s) take tasks\n" + string.Join("\n", nodes.Select(n => $"{n.Name}: {n.State}"));
        const string Fix = "bring the nodes up (docker node ls) and give each worker its engine endpoint (docker node update --label-add sandbox-runner.engine=tcp://HOST:PORT NODE); see docs/swarm.md";
        return taking == 0 ? new DoctorCheck("nodes", Fail, detail, Fix)
            : taking < nodes.Count ? new DoctorCheck("nodes", Warn, detail, Fix)
            : new DoctorCheck("nodes", Ok, detail, null);
    }

    private static DoctorCheck NetworkCheck(RunnerConfig config)
    {
        if (ConfigChecks.BeforeRun(config) is { Count: > 0 } broken)
        {
            return new DoctorCheck("network", Fail, string.Join("\n", broken.Select(p => p.ToString())), "change model_base_url as above; until then every run is refused");
        }

        return config.NetworkPolicy switch
        {
            NetworkPolicy.Allow => new DoctorCheck("network", Warn, "network_policy allow: task containers reach any host", "use \"deny\" unless the task needs the network"),
            NetworkPolicy.None => new DoctorCheck("network", Ok, "network_policy none: no network but loopback (local models only)", null),
            _ => new DoctorCheck("network", Ok, "network_policy deny", null),
        };
    }

    private static async Task<DoctorCheck> DockerCheckAsync(ITaskBackend backend, CancellationToken cancellationToken)
    {
        try
        {
            var facts = await backend.DescribeAsync(cancellationToken);
            return new DoctorCheck("docker", Ok, $"engine {facts.Version}, API {facts.ApiVersion}", null);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return new DoctorCheck("docker", Fail, $"not reachable: {e.Message}", "start the engine (`bash .ci/setup` installs and starts one on Debian) or set DOCKER_HOST");
        }
    }

    /// <summary>One check per environment of the config: the image tasks would use, whether it is built, whether setup is cached.</summary>
    private static async Task<IReadOnlyList<DoctorCheck>> EnvironmentChecksAsync(
        RunnerConfig config, HostRepository? repository, ITaskBackend backend, GitCli git, CancellationToken cancellationToken)
    {
        var names = (config.Environment is not null ? [RunnerConfig.DefaultEnvironment] : Array.Empty<string>()).Concat(config.Environments.Keys).ToList();
        if (names.Count == 0 || repository is null || await repository.ResolveCommitAsync("HEAD", cancellationToken) is not { } head)
        {
            return [];
        }

        using var images = new ImageProvisioner(config, backend.Images);
        if (!await backend.Images.ExistsAsync(images.Image, cancellationToken))
        {
            return [new DoctorCheck("environment", Warn, $"not checked: the Codex image {images.Image} that environments are layered on is not built yet", "sandbox-runner image build")];
        }

        var statuses = await Environments.EnvironmentCheck.ExamineAsync(config, names, repository, backend, git, images.TaskImage, head, cancellationToken);
        return statuses.Select(s => new DoctorCheck($"environment {s.Name}", s.Usable ? Ok : Fail, s.Usable ? s.Detail : $"{s.Field}: {s.Detail}", s.Fix)).ToList();
    }
}
