using Microsoft.Extensions.Logging;
using SandboxRunner.Configuration;

namespace SandboxRunner.Testcontainers;

/// <summary>
/// Builds a <see cref="CodexTaskRunner"/> the Testcontainers way: an immutable builder whose <c>With…</c>
/// methods each return a new builder, and <see cref="Build"/> that checks the whole configuration and
/// returns the resource (nothing is created before its <see cref="CodexTaskRunner.StartAsync"/>).
/// </summary>
public sealed class CodexTaskRunnerBuilder
{
    private readonly CodexTaskRunnerConfiguration _configuration;

    public CodexTaskRunnerBuilder()
        : this(new CodexTaskRunnerConfiguration())
    {
    }

    private CodexTaskRunnerBuilder(CodexTaskRunnerConfiguration configuration)
    {
        _configuration = configuration;
    }

    /// <summary>The fixture repository the tasks run against: a folder inside a git repository with at least one commit.</summary>
    public CodexTaskRunnerBuilder WithRepository(string path) => With(c => c with { RepositoryPath = path });

    /// <summary>The toolchain of every task that names none: an environment of the repository's config, <c>default</c> or <c>none</c>.</summary>
    public CodexTaskRunnerBuilder WithEnvironment(string name) => With(c => c with { Environment = name });

    /// <summary>Replaces the config's <c>network_policy</c> (<c>deny</c>, <c>allow</c>, <c>none</c>) and, when given, its <c>network_allowlist</c>.</summary>
    public CodexTaskRunnerBuilder WithNetworkPolicy(NetworkPolicy policy, params string[] allowlist) =>
        With(c => c with { NetworkPolicy = policy, NetworkAllowlist = allowlist.Length > 0 ? allowlist : c.NetworkAllowlist });

    /// <summary>Commands the runner runs itself after each task, in a fresh container with the task's tree; success needs them to pass.</summary>
    public CodexTaskRunnerBuilder WithVerify(params string[] commands) => With(c => c with { Verify = commands });

    /// <summary>Globs of the paths tasks may change (the config's <c>default_allowed_paths</c>).</summary>
    public CodexTaskRunnerBuilder WithAllowedPaths(params string[] globs) => With(c => c with { AllowedPaths = globs });

    /// <summary>Command prefixes tasks may run (the config's <c>allowed_commands</c>).</summary>
    public CodexTaskRunnerBuilder WithAllowedCommands(params string[] prefixes) => With(c => c with { AllowedCommands = prefixes });

    /// <summary>
    /// No model: each task's <see cref="AgentScript"/> (files written, commands run, messages) is played by the
    /// fake Codex CLI image, which the runner judges exactly like the real one. Offline, the same every time.
    /// </summary>
    public CodexTaskRunnerBuilder WithScriptedModel() => With(c => c with { Model = ModelSource.Scripted, ModelKey = null });

    /// <summary>The real Codex CLI against the model API with this key (kept out of task containers under <c>deny</c>).</summary>
    public CodexTaskRunnerBuilder WithModelKey(string apiKey) => With(c => c with { Model = ModelSource.ModelKey, ModelKey = apiKey });

    /// <summary>Replaces the config's <c>image</c> (the image the Codex CLI comes from).</summary>
    public CodexTaskRunnerBuilder WithImage(string image) => With(c => c with { Image = image });

    /// <summary>Any other change to the repository's config, for this runner only (the file is not written).</summary>
    public CodexTaskRunnerBuilder WithConfig(Func<RunnerConfig, RunnerConfig> configure) =>
        With(c => c with { Configure = c.Configure is { } earlier ? config => configure(earlier(config)) : configure });

    /// <summary>A label added to every container, network and image the runs create, beside the runner's and Testcontainers' own.</summary>
    public CodexTaskRunnerBuilder WithLabel(string name, string value) =>
        With(c => c with { Labels = new Dictionary<string, string>(c.Labels) { [name] = value } });

    public CodexTaskRunnerBuilder WithLogger(ILoggerFactory loggers) => With(c => c with { Loggers = loggers });

    /// <summary>Checks the configuration (every problem at once, naming the <c>With…</c> method) and returns the unstarted resource.</summary>
    public CodexTaskRunner Build()
    {
        var problems = Validate(_configuration);
        if (problems.Count > 0)
        {
            throw new ArgumentException(
                $"{nameof(CodexTaskRunnerBuilder)} has {problems.Count} problem(s):\n" + string.Join('\n', problems.Select(p => "- " + p)));
        }

        return new CodexTaskRunner(_configuration);
    }

    internal static IReadOnlyList<string> Validate(CodexTaskRunnerConfiguration c)
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(c.RepositoryPath))
        {
            problems.Add($"{nameof(WithRepository)}: required (the fixture repository's folder)");
        }
        else if (!Directory.Exists(c.RepositoryPath))
        {
            problems.Add($"{nameof(WithRepository)}: {c.RepositoryPath} does not exist; create the fixture repository before building");
        }

        if (c.Environment is { } environment && string.IsNullOrWhiteSpace(environment))
        {
            problems.Add($"{nameof(WithEnvironment)}: must not be blank (a name from the config's environments, 'default' or 'none')");
        }

        if (c.Verify is { } verify && verify.Any(string.IsNullOrWhiteSpace))
        {
            problems.Add($"{nameof(WithVerify)}: every command must be non-blank");
        }

        if (c.Model == ModelSource.ModelKey && string.IsNullOrWhiteSpace(c.ModelKey))
        {
            problems.Add($"{nameof(WithModelKey)}: the key must not be blank (or use {nameof(WithScriptedModel)} for tests without a model)");
        }

        foreach (var name in c.Labels.Keys.Where(k => k.StartsWith(SessionLabels.RunnerPrefix, StringComparison.Ordinal) || k.StartsWith(SessionLabels.TestcontainersPrefix, StringComparison.Ordinal)))
        {
            problems.Add($"{nameof(WithLabel)}: '{name}' is reserved (names starting with '{SessionLabels.RunnerPrefix}' or '{SessionLabels.TestcontainersPrefix}' are the runner's and Testcontainers')");
        }

        return problems;
    }

    private CodexTaskRunnerBuilder With(Func<CodexTaskRunnerConfiguration, CodexTaskRunnerConfiguration> change) => new(change(_configuration));
}
