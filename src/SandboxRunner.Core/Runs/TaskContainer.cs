using SandboxRunner.Codex;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>The box one task runs in: image, command, user, workspace and limits (the network is the run site's).</summary>
public static class TaskContainer
{
    /// <summary>Codex reads the placeholder from this variable; the proxy replaces it with the real key.</summary>
    private const string ProxyTokenVariable = "SANDBOX_RUNNER_PROXY_TOKEN";

    internal static BoxSpec Spec(TaskContext context, TaskPlan task, Worktree worktree, string home, Transports.ITaskTransport transport)
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
        if (context.Site.Egress is { } gateway)
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

            foreach (var (name, value) in gateway.ProxyVariables)
            {
                environment[name] = value;
            }
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

        transport.AddEnvironment(environment);
        var image = transport.Image;
        return new BoxSpec
        {
            Image = image.Tag,
            Command = command.ContainerCommand(),
            User = transport.BoxOwner.ToString(),
            WorkingDirectory = CodexCommandLine.Workspace,
            Environment = environment,
            Workspace = transport.Workspace(worktree, home),
            Identity = new BoxIdentity(task.TaskId, task.Attempt),
            MaxLogBytes = context.Limits.MaxLogBytes,
            Limits = ResourceProfiles.For(context.Run.ResourcePolicy),
            // An environment task writes its checkout in the image's filesystem, so that cannot be read-only; it is still uid 1000 with no capabilities.
            ReadOnlyRoot = !transport.WritesOwnLayer && context.Run.SandboxMode != SandboxMode.DangerFullAccess,
            Runtime = task.Runtime,

            // The runner's images seal Codex's output with their own init; a configured image runs under the engine's.
            Init = image.Init is { } init ? new SealedInit(init, Undumpable: true) : null,
        };
    }
}
