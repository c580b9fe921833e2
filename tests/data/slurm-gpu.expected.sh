#!/usr/bin/env bash

#SBATCH -J dask-worker
#SBATCH -p gpu
#SBATCH -A ser-lab
#SBATCH -n 1
#SBATCH --cpus-per-task=8
#SBATCH --mem=30G
#SBATCH -t 04:00:00
#SBATCH --gres=gpu:1
module load cuda/12.4
source ~/serbook/.venv/bin/activate
PYTHON -m distributed.cli.dask_worker tcp://SCHEDULER --name dummy-name --nthreads 8 --memory-limit 29.80GiB --nanny --death-timeout 60 --resources GPU=1
