using System.Text.Json.Nodes;
using static SandboxRunner.Configuration.ConfigLoader;

namespace SandboxRunner.Configuration;

/// <summary>
/// Every field of <c>.mcp-codex.json</c>: JSON name, description, shape (type, range, rule) and the
/// <see cref="RunnerConfig"/> property it sets. <see cref="ConfigLoader"/> reads through this table and
/// <see cref="ConfigSchema"/> is generated from it, so a field added here is read, validated and
/// published at once (regenerate the checked-in schema afterwards; a unit test says how).
/// </summary>
internal static class ConfigFieldTable
{
    // The patterns are what an editor can check (ECMAScript regexes); the loader's rule is the authority
    // and may refuse more (ConfigSchemaTests holds that whatever the loader accepts, the schema accepts).
    private static readonly TextRule NonBlankText = new(NonBlank, @"\S");
    private static readonly TextRule Word = new(SingleWord, @"^\S+$");
    internal static readonly TextRule RelativeGlob = new(RelativePattern, @"^(?=[\s\S]*\S)(?![/\\])(?![\s\S]:)(?!(?:[\s\S]*[/\\])?\.\.(?:[/\\]|$))");
    internal static readonly TextRule PathGlob = new(PathPattern, RelativeGlob.Pattern);
    private static readonly TextRule CaCert = new(CaCertEntry, @"^(?=[\s\S]*\S)(?!(?:[\s\S]*[/\\])?\.\.(?:[/\\]|$))");
    private static readonly TextRule Image = new(ImageReference, @"^[a-z0-9][a-z0-9._/:@-]*$");
    private static readonly TextRule SemVer = new(Version, @"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$");
    private static readonly TextRule Override = new(KeyValue, @"^[^=\s]+=[^\n]+$");
    private static readonly TextRule Variable = new(EnvName, @"^(?!(?:CODEX_HOME|HOME|PATH|USER)$)[A-Za-z_][A-Za-z0-9_]*$");
    private static readonly TextRule ChatGptBackend = new(ChatGptBackendUrl, @"^https://([A-Za-z0-9-]+\.)*chatgpt\.com(/\S*)?$", "uri");
    private static readonly TextRule Url = new(HttpUrl, @"^[Hh][Tt][Tt][Pp][Ss]?://\S+$", "uri");
    private static readonly TextRule Command = new(SetupCommand, @"\S") { MaxLength = MaxSetupCommandBytes };
    private static readonly TextRule VerifyCommandText = new(VerifyCommand, @"\S") { MaxLength = VerifyLimits.MaxCommandBytes };
    private static readonly TextRule Runtime = new(RuntimeName, @"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$");
    private static readonly TextRule RegistryHost = new(RegistryAddress, @"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?$");
    private static readonly TextRule EnvironmentKey = new(EnvironmentName, @"^(?!(?:default|none)$)[A-Za-z0-9._-]{1,64}$");
    private static readonly TextRule Host = new(
        HostPort,
        @"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?$");

    public static ConfigFields<TaskLimitOverrides> TaskLimits { get; } = new(
    [
        ConfigFields<TaskLimitOverrides>.Field("max_tree_bytes", "Bytes the task's tree (checkout included) may hold; past it the task is stopped and fails.",
            Shapes.Long(1024 * 1024, 1L << 40), l => l.MaxTreeBytes, (l, v) => l with { MaxTreeBytes = v }),
        ConfigFields<TaskLimitOverrides>.Field("max_files", "Files and folders the task's tree may hold.",
            Shapes.Long(1, 100_000_000), l => l.MaxFiles, (l, v) => l with { MaxFiles = v }),
        ConfigFields<TaskLimitOverrides>.Field("max_file_bytes", "Bytes one file may hold; a larger one is not kept.",
            Shapes.Long(1, 1L << 40), l => l.MaxFileBytes, (l, v) => l with { MaxFileBytes = v }),
        ConfigFields<TaskLimitOverrides>.Field("max_patch_bytes", "Bytes of the task's patch; a larger one is kept on the branch only.",
            Shapes.Long(1024, 1L << 40), l => l.MaxPatchBytes, (l, v) => l with { MaxPatchBytes = v }),
        ConfigFields<TaskLimitOverrides>.Field("max_log_bytes", "Bytes of container output (stdout and stderr); past it the task is stopped.",
            Shapes.Long(64 * 1024, 1L << 40), l => l.MaxLogBytes, (l, v) => l with { MaxLogBytes = v }),
    ]);

    public static ConfigFields<EnvironmentSpec> EnvironmentFields { get; } = new(
    [
        ConfigFields<EnvironmentSpec>.Field("base_image", "An image that has the repository's toolchain (node:22-bookworm, the .NET SDK, python:3.12, a team's dev image); the runner layers Codex on top. Exactly one of base_image and dockerfile.",
            Shapes.OrAbsent(Shapes.Text(Image)), e => e.BaseImage, (e, v) => e with { BaseImage = v }),
        ConfigFields<EnvironmentSpec>.Field("dockerfile", "A Dockerfile in the repository (a path relative to its root), built at the run's base commit as the base image. Exactly one of base_image and dockerfile.",
            Shapes.OrAbsent(Shapes.Text(RelativeGlob)), e => e.Dockerfile, (e, v) => e with { Dockerfile = v }),
        ConfigFields<EnvironmentSpec>.Field("setup", $"Shell commands run in order in the repository root once per cache key, not once per task (npm ci, dotnet restore); at most {MaxSetupCommands}, each at most 8 KiB.",
            Shapes.List(Command, MaxSetupCommands), e => e.Setup, (e, v) => e with { Setup = v }),
        ConfigFields<EnvironmentSpec>.Field("setup_network", "The network setup runs with: allow (any host, so package registries are reachable even when tasks run under deny) or deny (network_allowlist applies).",
            Shapes.Enum(SetupNetworks), e => e.SetupNetwork, (e, v) => e with { SetupNetwork = v }),
        ConfigFields<EnvironmentSpec>.Field("runtime", "The OCI runtime this environment's setup and tasks run under (runc, or runsc for gVisor), a name the Docker engine lists. Absent: the top-level runtime.",
            Shapes.OrAbsent(Shapes.Text(Runtime)), e => e.Runtime, (e, v) => e with { Runtime = v }),
        ConfigFields<EnvironmentSpec>.Field("cache_keys", $"Globs, relative to the repository root, of the only files setup sees, whose contents at the base commit key the setup cache (manifests, lock files); each must match a file; at most {MaxCacheKeys}. Absent: the manifests and lock files of npm, yarn, pnpm, NuGet, pip, Poetry, uv, Pipenv, Go, Cargo and Bundler.",
            Shapes.OrAbsent(Shapes.List(PathGlob, MaxCacheKeys)), e => e.CacheKeys, (e, v) => e with { CacheKeys = v }),
        ConfigFields<EnvironmentSpec>.Field("verify", VerifyDescription + " For the tasks in this environment; replaces the top-level verify.",
            Shapes.OrAbsent(Shapes.List(VerifyCommandText, VerifyLimits.MaxCommands)), e => e.Verify, (e, v) => e with { Verify = v }),
        ConfigFields<EnvironmentSpec>.Field("verify_timeout_sec", VerifyTimeoutDescription + " For the tasks in this environment.",
            Shapes.OptionalInt(VerifyLimits.MinTimeoutSec, VerifyLimits.MaxTimeoutSec), e => e.VerifyTimeoutSec, (e, v) => e with { VerifyTimeoutSec = v }),
        ConfigFields<EnvironmentSpec>.Field("verify_inputs", VerifyInputsDescription + " For the tasks in this environment.",
            Shapes.OrAbsent(Shapes.List(PathGlob, VerifyLimits.MaxInputs)), e => e.VerifyInputs, (e, v) => e with { VerifyInputs = v }),
    ]);

    private static readonly ObjectRule<EnvironmentSpec> OneSource = new(
        OneImageSource,
        () => new JsonObject { ["oneOf"] = new JsonArray(new JsonObject { ["required"] = new JsonArray("base_image") }, new JsonObject { ["required"] = new JsonArray("dockerfile") }) });

    private static readonly Shape<EnvironmentSpec> EnvironmentShape = Shapes.Object(EnvironmentFields, new EnvironmentSpec(), OneSource);

    public static ConfigFields<RunnerConfig> Root { get; } = new(
    [
        F("allowed_commands", "Command prefixes tasks may run besides the built-in baseline of inspection and workspace file commands (an audit after the fact); an empty list allows every command.",
            Shapes.List(NonBlankText), c => c.AllowedCommands, (c, v) => c with { AllowedCommands = v }),
        F("command_policy", "enforce: a command outside the built-in baseline and allowed_commands fails the task; audit: it is reported in violations and the task's status is unchanged (denied_commands fail it either way).",
            Shapes.Enum(CommandPolicies), c => c.CommandPolicy, (c, v) => c with { CommandPolicy = v }),
        F("default_allowed_paths", "Globs, relative to the repository root, of the paths a task may change.",
            Shapes.List(PathGlob), c => c.DefaultAllowedPaths, (c, v) => c with { DefaultAllowedPaths = v }),
        F("default_concurrency", "Tasks at once across every run of this server (a run's own concurrency can only lower it). Changes to it apply to tasks not yet started.",
            Shapes.Int(1, 8), c => c.DefaultConcurrency, (c, v) => c with { DefaultConcurrency = v }),
        F("default_timeout_sec", "Seconds a task may run before it is killed and ends 'timeout' (a task's timeout_sec has the same range).",
            Shapes.Int(10, 1800), c => c.DefaultTimeoutSec, (c, v) => c with { DefaultTimeoutSec = v }),
        F("resource_policy", "Container limits per task: memory, CPUs, processes, /tmp, and the default task_limits.",
            Shapes.Enum(ResourcePolicies), c => c.ResourcePolicy, (c, v) => c with { ResourcePolicy = v }),
        F("network_policy", "deny: only the egress proxy and its allowlist; allow: any host; none: loopback only.",
            Shapes.Enum(NetworkPolicies), c => c.NetworkPolicy, (c, v) => c with { NetworkPolicy = v }),
        F("codex_command", "The Codex executable inside the task image.",
            Shapes.Text(Word), c => c.CodexCommand, (c, v) => c with { CodexCommand = v }),
        F("codex_model", "Passed to Codex as -m; null leaves Codex's default.",
            Shapes.OrNull(Shapes.Text(NonBlankText)), c => c.CodexModel, (c, v) => c with { CodexModel = v }),
        F("codex_full_auto", "Accepted for compatibility and ignored: Codex 0.169 has no --full-auto, and the container is the sandbox.",
            Shapes.Bool(), c => c.CodexFullAuto, (c, v) => c with { CodexFullAuto = v }),
        F("codex_ephemeral", "Passes --ephemeral to Codex.",
            Shapes.Bool(), c => c.CodexEphemeral, (c, v) => c with { CodexEphemeral = v }),
        F("sandbox_mode", "Enforced by the container: read-only mounts the tree read-only; workspace-write keeps the root filesystem read-only; danger-full-access makes it writable.",
            Shapes.Enum(SandboxModes), c => c.SandboxMode, (c, v) => c with { SandboxMode = v }),
        F("max_runs_retained", "Run folders kept under .codex-runs/; older ones are pruned after each run.",
            Shapes.Int(1, 1000), c => c.MaxRunsRetained, (c, v) => c with { MaxRunsRetained = v }),
        F("max_tasks_per_run", "Tasks one run may have.",
            Shapes.Int(1, 50), c => c.MaxTasksPerRun, (c, v) => c with { MaxTasksPerRun = v }),
        F("image", "Task image (a Docker image reference). Absent or null: the image built from Dockerfile.codex for codex_version.",
            Shapes.OrNull(Shapes.Text(Image)), c => c.Image, (c, v) => c with { Image = v }),
        F("codex_version", "The Codex CLI version of the default task image.",
            Shapes.Text(SemVer), c => c.CodexVersion, (c, v) => c with { CodexVersion = v }),
        F("codex_config_overrides", "Codex settings, each passed as -c key=value.",
            Shapes.List(Override), c => c.CodexConfigOverrides, (c, v) => c with { CodexConfigOverrides = v }),
        F("env_passthrough", "Host variables passed into task containers when set; HOME, CODEX_HOME, PATH and USER are the runner's.",
            Shapes.List(Variable), c => c.EnvPassthrough, (c, v) => c with { EnvPassthrough = v }),
        F("allow_task_policy_widening", "When false, a task's allowed_paths and allowed_commands may only narrow the config's.",
            Shapes.Bool(), c => c.AllowTaskPolicyWidening, (c, v) => c with { AllowTaskPolicyWidening = v }),
        F("denied_commands", "Command prefixes Codex refuses up front (execpolicy forbidden rules), also flagged by the audit.",
            Shapes.List(NonBlankText), c => c.DeniedCommands, (c, v) => c with { DeniedCommands = v }),
        F("model_base_url", "The Responses API Codex uses; in deny the egress proxy forwards to it and adds the key. Named here, an endpoint other than https://api.openai.com gets the key only when the server's environment names it too (SANDBOX_RUNNER_MODEL_BASE_URL).",
            Shapes.Text(Url), c => c.ModelBaseUrl, (c, v) => c with { ModelBaseUrl = v, ModelBaseUrlFromFile = true }),
        F("model_api_key_env", "The host variable holding the model API key; in deny only the egress proxy gets it.",
            Shapes.Text(Variable), c => c.ModelApiKeyEnv, (c, v) => c with { ModelApiKeyEnv = v }),
        F("network_allowlist", "Hosts ('host' for ports 80 and 443, or 'host:port') the egress proxy lets tasks reach in deny. Absent: the model API's host and port.",
            Shapes.OrAbsent(Shapes.List(Host)), c => c.NetworkAllowlist, (c, v) => c with { NetworkAllowlist = v }),
        F("extra_ca_certs", "Certificate authorities setup and tasks trust besides their image's own, for networks that inspect TLS: \"host\" (this machine's system bundle) and paths of PEM files (absolute, or relative to the repository root). Applied through SSL_CERT_FILE, NODE_EXTRA_CA_CERTS, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, GIT_SSL_CAINFO and PIP_CERT.",
            Shapes.List(CaCert), c => c.ExtraCaCerts, (c, v) => c with { ExtraCaCerts = v }),
        F("task_limits", "Per-task limits that replace the resource_policy's defaults.",
            Shapes.Object(TaskLimits, new TaskLimitOverrides()), c => c.TaskLimits, (c, v) => c with { TaskLimits = v }),
        F("transport", "How a task's tree reaches its container: bind mounts, or copy through the Docker API for engines that cannot see this machine's files; auto probes the engine once.",
            Shapes.Enum(TransportPolicies), c => c.Transport, (c, v) => c with { Transport = v }),
        F("runtime", "The OCI runtime task and setup containers run under: runc, or runsc for gVisor (a user-space kernel between the agent and the host; see docs/gvisor.md), or any runtime name the Docker engine lists. Absent or null: the engine's default (runc on a stock engine). Checked against the engine before a run creates anything.",
            Shapes.OrNull(Shapes.Text(Runtime)), c => c.Runtime, (c, v) => c with { Runtime = v }),
        F("backend", "Where tasks run: docker (the engine DOCKER_HOST names, or the local one) or swarm (each task a one-task service on the swarm whose manager DOCKER_HOST names; see docs/swarm.md).",
            Shapes.Enum(Backends), c => c.Backend, (c, v) => c with { Backend = v }),
        F("registry", "With backend swarm: the registry (host:port) the runner pushes its images to, tagged by content, for the swarm's nodes to pull. Absent or null: the nodes must already hold them (a one-node swarm).",
            Shapes.OrNull(Shapes.Text(RegistryHost)), c => c.Registry, (c, v) => c with { Registry = v }),
        F("max_tasks_per_node", "With backend swarm: how many of the runner's tasks one node runs at once, across every run and runner on the swarm (1-64). Absent or null: as many as swarm places there.",
            Shapes.IntOrNull(1, 64), c => c.MaxTasksPerNode, (c, v) => c with { MaxTasksPerNode = v }),
        F("auth_method", "The model credential: api_key (model_api_key_env), chatgpt (the host's codex login, deny only), or auto: the key when its variable is set, else the ChatGPT sign-in when auth.json holds one.",
            Shapes.Enum(AuthMethods), c => c.AuthMethod, (c, v) => c with { AuthMethod = v }),
        F("chatgpt_base_url", "The ChatGPT backend the egress proxy sends the sign-in's requests to; https on chatgpt.com only.",
            Shapes.Text(ChatGptBackend), c => c.ChatGptBaseUrl, (c, v) => c with { ChatGptBaseUrl = v.TrimEnd('/') }),
        F("environment", "The toolchain every task runs in (a base image or a Dockerfile, and setup run once per cache key), known as 'default'; a run or a task may name another of environments, or 'none' for the plain Codex image. Not together with image.",
            Shapes.OrAbsent(EnvironmentShape), c => c.Environment, (c, v) => c with { Environment = v }),
        F("verify", VerifyDescription + " A run's, an environment's or a task's own verify replaces it; [] is none.",
            Shapes.List(VerifyCommandText, VerifyLimits.MaxCommands), c => c.Verify, (c, v) => c with { Verify = v }),
        F("verify_timeout_sec", VerifyTimeoutDescription,
            Shapes.Int(VerifyLimits.MinTimeoutSec, VerifyLimits.MaxTimeoutSec), c => c.VerifyTimeoutSec, (c, v) => c with { VerifyTimeoutSec = v }),
        F("verify_inputs", VerifyInputsDescription,
            Shapes.List(PathGlob, VerifyLimits.MaxInputs), c => c.VerifyInputs, (c, v) => c with { VerifyInputs = v }),
        F("environments", "More environments, by name (1-64 letters, digits, '.', '_', '-'; 'default' and 'none' are reserved), that a run's or a task's environment argument may name. Not together with image.",
            Shapes.Map(EnvironmentKey, EnvironmentShape), c => c.Environments, (c, v) => c with { Environments = v }),
    ]);

    private const string VerifyDescription =
        "Shell commands the runner runs itself after a task's agent has ended (npm test), in order, in a fresh container of the task's image holding the task's harvested tree, as the same unprivileged user with the task's network policy and limits; the first that fails stops the rest, and a task whose agent succeeded but whose verification did not pass is 'failed'. At most 20, each at most 8 KiB.";

    private const string VerifyTimeoutDescription = "Seconds each verify command may run before it is killed and the verification ends 'timed_out'.";

    private const string VerifyInputsDescription =
        "Globs, relative to the repository root, of the files the verify commands depend on (test files, package.json, lock files, runner configs); a task's change to one is reported in verification.changed_inputs. Replaces the documented per-ecosystem defaults; files the verify commands name are always inputs.";

    private static ConfigField<RunnerConfig> F<T>(string name, string description, Shape<T> shape, Func<RunnerConfig, T> get, Func<RunnerConfig, T, RunnerConfig> set) =>
        ConfigFields<RunnerConfig>.Field(name, description, shape, get, set);
}
