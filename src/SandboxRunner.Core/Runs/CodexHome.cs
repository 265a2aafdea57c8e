using System.Text;
using SandboxRunner.Codex;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;
using SandboxRunner.Configuration;

namespace SandboxRunner.Runs;

/// <summary>What a task's Codex finds in its home before it starts.</summary>
internal static class CodexHome
{
    /// <summary>
    /// The container's writable CODEX_HOME (also its HOME): the prompt, Codex rules forbidding the denied
    /// commands, and a git config that lets git work on a tree owned by another uid and commit with a
    /// placeholder identity.
    /// </summary>
    public static async Task<string> PrepareAsync(string folder, TaskPlan task, TaskContext context, UnixOwner owner, CancellationToken cancellationToken)
    {
        var config = context.Config;
        var home = Path.Combine(folder, "home");
        Directory.CreateDirectory(home);
        await File.WriteAllTextAsync(Path.Combine(home, Path.GetFileName(CodexCommandLine.PromptFile)), task.Prompt, cancellationToken);
        await File.WriteAllTextAsync(
            Path.Combine(home, ".gitconfig"),
            "[safe]\n\tdirectory = *\n[user]\n\tname = Codex (sandbox-runner)\n\temail = codex@sandbox-runner.invalid\n",
            cancellationToken);
        if (config.DeniedCommands.Count > 0)
        {
            Directory.CreateDirectory(Path.Combine(home, "rules"));
            await File.WriteAllTextAsync(Path.Combine(home, "rules", "sandbox-runner.rules"), CommandPolicy.ForbiddenRules(config.DeniedCommands), cancellationToken);
        }

        if (context.Run.Credential.Kind == Auth.CredentialKind.ChatGpt)
        {
            // What Codex needs to believe it is signed in: placeholder tokens only, never the host's.
            await using var auth = new FileStream(Path.Combine(home, Auth.AuthFile.FileName), new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            await auth.WriteAsync(Encoding.UTF8.GetBytes(Auth.PlaceholderSignIn.AuthJson(context.Run.Credential.ChatGpt?.PlanType, context.Clock.GetUtcNow())), cancellationToken);
        }

        if (context.Run.Trust is { } trust)
        {
            await File.WriteAllTextAsync(Path.Combine(home, TrustedAuthorities.FileName), trust.Pem, cancellationToken);
        }

        if (context.Run.OutputSchema is { } schema)
        {
            await File.WriteAllTextAsync(Path.Combine(home, Path.GetFileName(CodexCommandLine.OutputSchemaFile)), schema, cancellationToken);
        }

        await owner.TakeOwnershipAsync([home], cancellationToken);
        return home;
    }
}
