using System.Text;
using SandboxRunner.Configuration;
using SandboxRunner.Platform;
using SandboxRunner.Policy;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>
/// The doctor's runtime checks: each OCI runtime the config names (top level, and every environment that names its
/// own) is one the engine lists, and a container of the task image starts under it; the detail says which kernel its
/// tasks see, so <c>runsc</c> shows gVisor's and <c>runc</c> the engine's own.
/// </summary>
public static class RuntimeDoctor
{
    private static readonly TimeSpan ProbeBudget = TimeSpan.FromSeconds(60);

    public static async Task<IReadOnlyList<DoctorCheck>> ExamineAsync(
        RunnerConfig config, ITaskBackend backend, EngineRuntimes runtimes, string image, bool imagePresent, string? scope, CancellationToken cancellationToken)
    {
        // The top-level runtime also runs the environments that name none of their own.
        var environments = (config.Environment is null ? [] : new[] { KeyValuePair.Create(RunnerConfig.DefaultEnvironment, config.Environment) })
            .Concat(config.Environments.OrderBy(e => e.Key, StringComparer.Ordinal)).ToList();
        var named = new List<(string Check, string? Name, bool InEnvironment)> { ("runtime", config.Runtime, environments.Any(e => e.Value.Runtime is null)) };
        named.AddRange(environments.Where(e => e.Value.Runtime is not null).Select(e => ($"runtime environment {e.Key}", e.Value.Runtime, true)));

        var checks = new List<DoctorCheck>();
        foreach (var (check, name, inEnvironment) in named)
        {
            if (RuntimeCheck.Problems(name, runtimes, config.NetworkPolicy, inEnvironment).FirstOrDefault() is { Detail: not null } problem)
            {
                checks.Add(new DoctorCheck(check, Doctor.Fail, problem.Detail, problem.Fix));
                continue;
            }

            var runtime = runtimes.Find(name)!;
            var described = $"{runtime.Name}{(name is null ? " (the engine's default)" : "")}: {runtime.Path ?? runtime.Name}{string.Concat(runtime.Arguments.Select(a => " " + a))}";
            if (!imagePresent)
            {
                checks.Add(new DoctorCheck(check, Doctor.Ok, $"{described}; not started: the task image is not built yet", null));
                continue;
            }

            var (kernel, failure) = await ProbeAsync(backend, image, runtime.Name, ResourceProfiles.For(config.ResourcePolicy), scope, cancellationToken);
            checks.Add(failure switch
            {
                null => new DoctorCheck(check, Doctor.Ok, $"{described}; tasks see {Kernel(kernel, runtimes.HostKernel)}", null),
                _ when kernel.Length > 0 => new DoctorCheck(check, Doctor.Warn,
                    $"{described}; tasks see {Kernel(kernel, runtimes.HostKernel)}, but `ls /` fails there ({failure}): this runsc rejects statx() with AT_NO_AUTOMOUNT, so the agent's ls and stat fail too",
                    "install runsc 0.0~20240729 or newer (bash .ci/setup-gvisor installs Debian trixie's); see docs/gvisor.md"),
                _ => new DoctorCheck(check, Doctor.Fail, $"{described}; a container of {image} does not start under it: {failure}",
                    RuntimeCheck.IsGvisor(runtime)
                        ? $"register gVisor with {RuntimeCheck.GvisorArguments} as its runtimeArgs (runsc's own network stack refuses Docker's namespaces on newer kernels), then send dockerd SIGHUP; see docs/gvisor.md"
                        : "see the engine's log for why the runtime cannot start containers, or name another runtime"),
            });
        }

        return checks;
    }

    /// <summary>Says whether <paramref name="kernel"/> (a task's /proc/version) is the engine's own or one between them.</summary>
    private static string Kernel(string kernel, string? hostKernel) =>
        hostKernel is null ? $"kernel \"{kernel}\""
        : kernel.Contains(hostKernel, StringComparison.Ordinal) ? $"the engine's own kernel ({hostKernel})"
        : $"a kernel of their own, not the engine's {hostKernel}: \"{kernel}\"";

    /// <summary>
    /// Starts <paramref name="image"/> under <paramref name="runtime"/>, hardened as a task is, to read the kernel it reports and
    /// list a folder as an agent would: the kernel, and what failed (null when nothing did; with a kernel, only the listing).
    /// </summary>
    private static async Task<(string Kernel, string? Failure)> ProbeAsync(
        ITaskBackend backend, string image, string runtime, ResourceLimits limits, string? scope, CancellationToken cancellationToken)
    {
        var spec = new BoxSpec
        {
            Image = image,
            Entrypoint = ["/bin/sh", "-c", "cat /proc/version && echo ---- && ls / >/dev/null"],
            Command = [],
            User = UnixOwner.ImageUser.ToString(),
            WorkingDirectory = "/",
            Environment = new Dictionary<string, string>(),
            // A task's own limits: gVisor's threads and memory count against them too.
            Limits = limits,
            MaxLogBytes = 64 * 1024,
            Runtime = runtime,
            Identity = new BoxIdentity(TaskId: null, Purpose: BoxPurpose.Probe),
        };
        var output = new StringBuilder();
        try
        {
            await using var site = await backend.OpenRunSiteAsync(new RunSiteSpec(new BoxScope(scope), RunId: null, NetworkIntent.None), cancellationToken);
            await using var box = await site.CreateBoxAsync(spec, cancellationToken);
            var exit = await box.RunAsync(ProbeBudget, (_, chunk) => output.Append(Encoding.UTF8.GetString(chunk)), null, CancellationToken.None, cancellationToken);
            var text = output.ToString().Trim();
            var marker = text.IndexOf("----", StringComparison.Ordinal);
            var kernel = marker > 0 ? TextCap.Cap(text[..marker].Trim(), 300) : "";
            var rest = TextCap.Cap(marker > 0 ? text[(marker + 4)..].Trim() : text, 300);
            return exit.ExitCode == 0 ? (kernel, null) : (kernel, $"exit {exit.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none (timed out)"}: {rest}");
        }
        catch (InvalidOperationException e)
        {
            return ("", e.Message);
        }
    }
}
