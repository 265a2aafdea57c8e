using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Runs;

/// <summary>The container one task runs in: image, command, user, mounts, network and limits.</summary>
public static class TaskContainer
{
    /// <summary>Codex reads the placeholder from this variable; the proxy replaces it with the real key.</summary>
    private const string ProxyTokenVariable = "SANDBOX_RUNNER_PROXY_TOKEN";

    public static ContainerSpec Spec(TaskContext context, TaskPlan task, Worktree worktree, string home, UnixOwner owner, TaskNetwork? network)
    {
        var config = context.Config;
        var environment = new Dictionary<string, string>(context.PassedEnvironment)
        {
            ["CODEX_HOME"] = CodexCommandLine.Home,
            ["HOME"] = CodexCommandLine.Home,
        };

        // Quiet defaults first, so the user's overrides can change them; the runner's provider settings
        // after the user's, so they win.
        var overrides = CodexCommandLine.QuietOverrides.Concat(config.CodexConfigOverrides).ToList();
        if (context.Gateway is { } gateway)
        {
            if (context.Run.Credential.Kind == Auth.CredentialKind.ChatGpt)
            {
                // Placeholders only: the proxy adds the real token and account id (see Auth.PlaceholderSignIn).
                overrides.AddRange(Auth.PlaceholderSignIn.CodexOverrides(gateway.ModelBaseUrl, config.CodexVersion));
                foreach (var (name, value) in Auth.PlaceholderSignIn.Environment(gateway.ModelBaseUrl))
                {
                    environment[name] = value;
                }
            }
            else
            {
                overrides.AddRange(CodexCommandLine.ProviderOverrides(gateway.ModelBaseUrl, ProxyTokenVariable));
                environment[ProxyTokenVariable] = "held-by-the-egress-proxy";
            }

            foreach (var name in (string[])["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"])
            {
                environment[name] = gateway.ForwardProxyUrl;
            }

            environment["NO_PROXY"] = environment["no_proxy"] = $"localhost,127.0.0.1,{EgressGateway.ProxyAlias}";
        }
        else if (config.ModelBaseUrl != RunnerConfig.DefaultModelBaseUrl)
        {
            overrides.AddRange(CodexCommandLine.ProviderOverrides(config.ModelBaseUrl, config.ModelApiKeyEnv));
        }

        var command = new CodexCommandLine
        {
            Executable = config.CodexCommand,
            Model = config.CodexModel,
            Ephemeral = config.CodexEphemeral,
            ConfigOverrides = overrides,
            WithOutputSchema = context.Run.OutputSchema is not null,
        };

        if (context.Run.Trust is not null)
        {
            foreach (var (name, value) in TrustedAuthorities.Environment($"{CodexCommandLine.Home}/{TrustedAuthorities.FileName}"))
            {
                environment[name] = value;
            }
        }

        var prepared = context.EnvironmentOf(task);
        if (prepared is not null)
        {
            // HOME is the image's, where setup left its caches (~/.nuget/packages); git's settings stay in CODEX_HOME.
            environment["HOME"] = Environments.SetupRun.Home;
            environment["GIT_CONFIG_GLOBAL"] = $"{CodexCommandLine.Home}/.gitconfig";
        }

        var image = prepared is not null ? new Environments.TaskImage(prepared.RunImage.Tag, prepared.RunImage.Init) : context.Image;
        var spec = new ContainerSpec
        {
            Image = image.Tag,
            Command = command.ContainerCommand(),
            User = owner.ToString(),
            WorkingDirectory = CodexCommandLine.Workspace,
            Environment = environment,
            Mounts = context.Copy is not null || prepared is not null ? [] :
            [
                new BindMount(worktree.WorkPath, CodexCommandLine.Workspace, ReadOnly: context.Run.SandboxMode == SandboxMode.ReadOnly),
                new BindMount(context.Repository.ObjectsDir, context.Repository.ObjectsDir, ReadOnly: true),
                new BindMount(home, CodexCommandLine.Home, ReadOnly: false),
            ],
            // An environment's checkout is in the image's own filesystem (copy-on-write over the setup's artefacts).
            Volumes = prepared is not null ? [CodexCommandLine.Home, context.Environments!.Copy.ObjectsDir] : context.Copy?.Volumes ?? [],
            Labels = Labels.For(context.Scope, context.Run.RunId, task.TaskId, task.Attempt),
            MaxLogBytes = context.Limits.MaxLogBytes,
            Limits = ResourceProfiles.For(context.Run.ResourcePolicy),
            // An environment task writes its checkout in the image's filesystem, so that cannot be read-only; it is still uid 1000 with no capabilities.
            ReadOnlyRootFilesystem = prepared is null && context.Run.SandboxMode != SandboxMode.DangerFullAccess,

            NetworkMode = network?.NetworkMode ?? (config.NetworkPolicy == NetworkPolicy.Allow ? "bridge" : "none"),
            Runtime = task.Runtime,
        };

        // The runner's images seal Codex's output with their own init; a configured image runs under the engine's.
        return image.Init is { } init ? SealedInit.Wrap(spec, init, undumpable: true) : spec;
    }

}
