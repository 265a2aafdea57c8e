using System.Runtime.CompilerServices;
using SandboxRunner.Host.Commands;
using SandboxRunner.Host.Composition;
using SandboxRunner.Host.Mcp;
using Spectre.Console.Cli;

namespace SandboxRunner.Host;

/// <summary>
/// The command line: no verb serves MCP over stdio (what MCP clients start); each verb is a command class with its own
/// settings and help, and drives the same library from a terminal or a pipeline. A bad command line is one line on
/// stderr naming the argument and the fix, exit 2 (<see cref="ExitCodes.BadInput"/>).
/// </summary>
internal static class HostApp
{
    private static readonly string[] Verbs = ["run", "runs", "show", "apply", "cancel", "doctor", "image"];

    /// <summary>The global options that take a value: what follows one is its value, never the verb.</summary>
    private static readonly string[] ValueOptions = ["--repo"];

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter errors, TextWriter? output = null)
    {
        StartupTrace.Mark("main");
        if (Environment.GetEnvironmentVariable(ToolSnapshot.WriteVariable) is { Length: > 0 } snapshot)
        {
            // The publish step's call (see the project file): the tool list, made as a server would, beside the host.
            ToolSnapshot.Write(snapshot, ToolCatalog.Create(), ResourceCatalog.Create());
            return ExitCodes.Success;
        }

        return ServerArguments(args) is { } server ? await McpServer.RunAsync(server) : await VerbAsync(args, errors, output);
    }

    /// <summary>
    /// A verb, help or a mistake: the command-line parser. A method of its own so that the server's path never loads
    /// the parser's assembly (the JIT loads every type a method names when it compiles it).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static async Task<int> VerbAsync(IReadOnlyList<string> args, TextWriter errors, TextWriter? output)
    {
        var app = new CommandApp<ServeCommand>();
        app.Configure(c => Configure(c, output ?? Console.Out));
        var ordered = VerbFirst(args);
        if (ordered is ["image", ..] && (ordered.Count == 1 || ordered[1] is not ("build" or "ls" or "prune" or "--help" or "-h")))
        {
            await errors.WriteLineAsync("sandbox-runner: image: the image commands are `image build`, `image ls` and `image prune`; see `sandbox-runner image --help`");
            return ExitCodes.BadInput;
        }

        try
        {
            return await app.RunAsync(ordered);
        }
        catch (CommandAppException e)
        {
            await errors.WriteLineAsync($"sandbox-runner: {Explain(e, ordered)}");
            return ExitCodes.BadInput;
        }
    }

    private static void Configure(IConfigurator c, TextWriter output)
    {
        c.SetApplicationName("sandbox-runner");
        c.UseStrictParsing();
        c.PropagateExceptions();

        // Help is written as plain text straight to the output, never wrapped: it is read in pipeline logs as often as in
        // terminals, and no console is set up (terminal detection) for the server, which never prints help.
        c.SetHelpProvider(new HostHelp(output, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            [""] = ServeCommand.About,
            ["run"] = RunCommand.About,
            ["runs"] = RunsCommand.About,
            ["show"] = ShowCommand.About,
            ["apply"] = ApplyCommand.About,
            ["cancel"] = CancelCommand.About,
            ["doctor"] = DoctorCommand.About,
            ["image build"] = ImageBuildCommand.About,
            ["image ls"] = ImageListCommand.About,
            ["image prune"] = ImagePruneCommand.About,
        }));

        c.AddCommand<RunCommand>("run").WithDescription("run tasks, with live progress, reports (--junit, --markdown, --json) and --apply");
        c.AddCommand<RunsCommand>("runs").WithDescription("list the runs");
        c.AddCommand<ShowCommand>("show").WithDescription("a run, or one task's result");
        c.AddCommand<ApplyCommand>("apply").WithDescription("bring a task's change (its best attempt's, or --attempt K) into the working tree");
        c.AddCommand<CancelCommand>("cancel").WithDescription("cancel a run, whichever process runs it");
        c.AddCommand<DoctorCommand>("doctor").WithDescription("check Docker, images, repository, auth and config");
        c.AddBranch<HostSettings>("image", image =>
        {
            image.SetDescription("the runner's images");
            image.AddCommand<ImageBuildCommand>("build").WithDescription("build the task image and the egress proxy image when missing; prints their tags and the environments' images (--dry-run: only prints them)");
            image.AddCommand<ImageListCommand>("ls").WithDescription("list the images the runner built, with size and use");
            image.AddCommand<ImagePruneCommand>("prune").WithDescription("remove unused runner images (--all, --dry-run)");
        });
    }

    /// <summary>
    /// The server's own command line, the one MCP clients start every session (<c>--repo PATH</c>, <c>--verbose</c>,
    /// nothing else), read without building the verbs' model: that costs ~40 ms of CPU before the first byte of the
    /// protocol. Anything else (a verb, help, a mistake) goes to the parser; null then.
    /// </summary>
    public static HostSettings? ServerArguments(IReadOnlyList<string> args)
    {
        string? repo = null;
        var verbose = false;
        for (var i = 0; i < args.Count; i++)
        {
            switch (args[i])
            {
                case "-v" or "--verbose" when !verbose:
                    verbose = true;
                    break;
                case "--repo" when repo is null && i + 1 < args.Count && !args[i + 1].StartsWith('-'):
                    repo = args[++i];
                    break;
                case var inline when repo is null && inline.StartsWith("--repo=", StringComparison.Ordinal) && inline.Length > "--repo=".Length:
                    repo = inline["--repo=".Length..];
                    break;
                default:
                    return null;
            }
        }

        return new HostSettings { Repo = repo, Verbose = verbose };
    }

    /// <summary>
    /// Options may come before the verb (<c>--repo X run tasks.json</c>); the parser reads a command's options after it,
    /// so the ones given first move behind the verb (and behind <c>image</c>'s sub-command).
    /// </summary>
    public static IReadOnlyList<string> VerbFirst(IReadOnlyList<string> args)
    {
        for (var i = 0; i < args.Count; i++)
        {
            if (ValueOptions.Contains(args[i], StringComparer.Ordinal))
            {
                i++;
                continue;
            }

            if (args[i].StartsWith('-'))
            {
                continue;
            }

            if (!Verbs.Contains(args[i], StringComparer.Ordinal) || i == 0)
            {
                return args;
            }

            var verbEnd = args[i] == "image" && i + 1 < args.Count && !args[i + 1].StartsWith('-') ? i + 2 : i + 1;
            return [.. args.Skip(i).Take(verbEnd - i), .. args.Take(i), .. args.Skip(verbEnd)];
        }

        return args;
    }

    /// <summary>The parser's complaint as one line with the fix: which command, what is wrong, where the help is.</summary>
    private static string Explain(CommandAppException e, IReadOnlyList<string> args)
    {
        var verb = args.Count > 0 && Verbs.Contains(args[0], StringComparer.Ordinal)
            ? args[0] == "image" && args.Count > 1 && args[1] is "build" or "ls" or "prune" ? $"image {args[1]}" : args[0]
            : null;
        var message = e.Message.Trim().TrimEnd('.');
        if (message.StartsWith("Unknown command", StringComparison.Ordinal) || (verb is null && message.StartsWith("Could not match", StringComparison.Ordinal)))
        {
            return $"{message}; the commands are run, runs, show, apply, cancel, doctor, image build, image ls and image prune (none serves MCP)";
        }

        return verb is null
            ? $"{message} (without a command sandbox-runner serves MCP); see `sandbox-runner --help`"
            : $"{verb}: {message}; see `sandbox-runner {verb} --help`";
    }
}
